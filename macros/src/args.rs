//! The arguments of `#[traced(...)]`, as written: syntax only. Key rules live in `check.rs`.

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, TokenStreamExt};
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream, Parser};
use syn::{Expr, ExprLit, ExprPath, Ident, Lit, LitStr, Token};

use crate::errors::Errors;
use crate::options::{self, OptionName, OptionNames};

/// `#[traced(name = "..", kind = .., attributes(..), parent = .. | root, links(..))]`; every option is
/// optional.
#[derive(Default)]
pub(crate) struct TracedArgs {
    pub(crate) name: Option<LitStr>,
    pub(crate) kind: Option<SpanKind>,
    pub(crate) attributes: Vec<AttributeArg>,
    /// `parent = expr`: the expression, of any type `traced::__private::SpanParent` accepts.
    pub(crate) parent: Option<Expr>,
    /// `root`, as written.
    pub(crate) root: Option<Ident>,
    /// `links(expr, ...)`: expressions of types `traced::__private::SpanLink` accepts.
    pub(crate) links: Vec<Expr>,
    /// `level = ..`: the span is created only at or below the thresholds.
    pub(crate) level: Option<SpanLevel>,
    /// `metrics`, as written: count and time the calls (autometrics' names and labels).
    pub(crate) metrics: Option<Ident>,
    /// `skip`, as written: only on a method of a `#[traced]` impl block, which it leaves untouched.
    pub(crate) skip: Option<Ident>,
    /// `__impl = "Type"`: written by `#[traced]` on an impl block for each method, whose code location
    /// then names the type (`module::Type::method`).
    pub(crate) impl_type: Option<LitStr>,
    /// Each option as written, to hand on to the methods of an impl block.
    pub(crate) written: Vec<(&'static str, TokenStream)>,
}

/// Every option of `#[traced]`, in the order its messages list them.
const TRACED_OPTIONS: &[&str] =
    &["name", "kind", "attributes", "parent", "root", "links", "level", "metrics", "skip", "__impl"];

impl Parse for TracedArgs {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let mut errors = Errors::default();
        let args = parse_traced(input, &mut errors);
        errors.finish(args)
    }
}

/// Parses what it can of `#[traced(...)]`, recording every problem in `errors`, so the checks of
/// the arguments understood still run and all problems show in one build.
pub(crate) fn parse_traced_args(tokens: TokenStream, errors: &mut Errors) -> TracedArgs {
    match (|input: ParseStream| Ok(parse_traced(input, errors))).parse2(tokens) {
        Ok(args) => args,
        Err(error) => {
            errors.push(error);
            TracedArgs::default()
        }
    }
}

fn parse_traced(input: ParseStream, errors: &mut Errors) -> TracedArgs {
    let mut options = OptionNames::new(TRACED_OPTIONS);
    let mut args = TracedArgs::default();
    let parsed = options::each_option(input, &mut options, |option, input, errors| {
        match option.name {
            "kind" => {
                args.kind = options::value(option, input, errors, "kind = server", |input| input.parse::<Expr>())?
                    .and_then(|kind| errors.take(SpanKind::from_expr(&kind)));
            }
            "level" => {
                args.level = options::value(option, input, errors, "level = debug", |input| input.parse::<Expr>())?
                    .and_then(|level| errors.take(SpanLevel::from_expr(&level)));
            }
            "parent" => args.parent = options::value(option, input, errors, "parent = &cx", Expr::parse)?,
            "root" => {
                options::flag(option, input, errors)?;
                args.root = Some(option.ident.clone());
            }
            "__impl" => {
                args.impl_type = options::value(option, input, errors, "__impl = \"Type\"", <LitStr as Parse>::parse)?
            }
            "metrics" => {
                options::flag(option, input, errors)?;
                args.metrics = Some(option.ident.clone());
            }
            "skip" => {
                options::flag(option, input, errors)?;
                args.skip = Some(option.ident.clone());
            }
            "links" => {
                if let Some(list) = options::list(option, input, errors, "links(span_context, ...)")? {
                    let links = list.parse_terminated(Expr::parse, Token![,])?;
                    if links.is_empty() {
                        let message = "`links(..)` needs at least one span context, like `links(span_context)`";
                        errors.push(syn::Error::new(option.ident.span(), message));
                    }
                    args.links.extend(links);
                }
            }
            _ => parse_span_option(option, input, errors, &mut args)?,
        }
        Ok(())
    });
    errors.extend(options.errors);
    args.written = options.written;
    if let Err(error) = parsed {
        errors.push(error);
        // Past a syntax error nothing more can be understood.
        options::skip_rest(input);
    }
    args
}

/// `name = ".."` and `attributes(..)`, the options every span-making macro shares; others are left
/// to the caller.
pub(crate) fn parse_span_option(
    option: &OptionName,
    input: ParseStream,
    errors: &mut Errors,
    args: &mut TracedArgs,
) -> syn::Result<()> {
    match option.name {
        "name" => {
            let name = options::value(option, input, errors, "name = \"load-item\"", |input| input.parse::<Expr>())?;
            args.name = name.and_then(|name| errors.take(span_name(name)));
        }
        "attributes" => {
            if let Some(list) = options::list(option, input, errors, "attributes(key = value, ...)")? {
                args.attributes.extend(list.parse_terminated(AttributeArg::parse, Token![,])?);
            }
        }
        _ => {}
    }
    Ok(())
}

fn span_name(value: Expr) -> syn::Result<LitStr> {
    match value {
        Expr::Lit(ExprLit { lit: Lit::Str(name), .. }) if name.value().is_empty() => {
            Err(syn::Error::new(name.span(), "the span name must not be empty"))
        }
        Expr::Lit(ExprLit { lit: Lit::Str(name), .. }) => Ok(name),
        other => Err(syn::Error::new_spanned(other, "expected a string literal, like `name = \"load-item\"`")),
    }
}

/// The OpenTelemetry span kind, as written in `kind = ..`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum SpanKind {
    #[default]
    Internal,
    Server,
    Client,
    Producer,
    Consumer,
}

impl SpanKind {
    const ALL: [(&'static str, SpanKind); 5] = [
        ("internal", SpanKind::Internal),
        ("server", SpanKind::Server),
        ("client", SpanKind::Client),
        ("producer", SpanKind::Producer),
        ("consumer", SpanKind::Consumer),
    ];

    fn from_expr(value: &Expr) -> syn::Result<Self> {
        choice(value, "kind", "span kind", &Self::ALL)
    }

    /// The variant name in `opentelemetry::trace::SpanKind`.
    pub(crate) fn variant(self) -> &'static str {
        match self {
            SpanKind::Internal => "Internal",
            SpanKind::Server => "Server",
            SpanKind::Client => "Client",
            SpanKind::Producer => "Producer",
            SpanKind::Consumer => "Consumer",
        }
    }
}

/// The level of a span, as written in `level = ..`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum SpanLevel {
    Error,
    Warn,
    #[default]
    Info,
    Debug,
    Trace,
}

impl SpanLevel {
    const ALL: [(&'static str, SpanLevel); 5] = [
        ("error", SpanLevel::Error),
        ("warn", SpanLevel::Warn),
        ("info", SpanLevel::Info),
        ("debug", SpanLevel::Debug),
        ("trace", SpanLevel::Trace),
    ];

    fn from_expr(value: &Expr) -> syn::Result<Self> {
        choice(value, "level", "span level", &Self::ALL)
    }

    /// The variant name in `traced::__private::Level`.
    pub(crate) fn variant(self) -> &'static str {
        match self {
            SpanLevel::Error => "Error",
            SpanLevel::Warn => "Warn",
            SpanLevel::Info => "Info",
            SpanLevel::Debug => "Debug",
            SpanLevel::Trace => "Trace",
        }
    }
}

/// One of `choices`, written as a bare lowercase identifier (`option = choice`); `what` names the
/// choices in messages (`span kind`).
fn choice<T: Copy>(value: &Expr, option: &str, what: &str, choices: &[(&'static str, T)]) -> syn::Result<T> {
    let written = match value {
        Expr::Path(ExprPath { path, qself: None, attrs }) if attrs.is_empty() => path.get_ident(),
        _ => None,
    };
    let names: Vec<String> = choices.iter().map(|(name, _)| format!("`{name}`")).collect();
    let expected = match names.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("expected {} or {last}", rest.join(", ")),
        _ => format!("expected {}", names.join("")),
    };
    let known = written.and_then(|ident| choices.iter().find(|(name, _)| ident == name));
    let lowercase = written.map(|ident| ident.to_string().to_lowercase());
    let case_slip = lowercase.filter(|name| choices.iter().any(|(choice, _)| choice == name));
    match (known, written, case_slip) {
        (Some((_, chosen)), _, _) => Ok(*chosen),
        (None, Some(ident), Some(lowercase)) => {
            Err(syn::Error::new(ident.span(), format!("{what}s are written in lowercase: `{option} = {lowercase}`")))
        }
        (None, Some(ident), None) => {
            Err(syn::Error::new(ident.span(), format!("unknown {what} `{ident}`; {expected}")))
        }
        (None, None, _) => Err(syn::Error::new_spanned(value, format!("{expected} as the {what}"))),
    }
}

/// One entry of `attributes(...)`: `key = value`, or a bare parameter name recorded under its own name.
pub(crate) struct AttributeArg {
    pub(crate) key: AttributeKey,
    pub(crate) value: Expr,
    /// Written as a bare name: the value is the parameter of that name.
    pub(crate) bare: bool,
}

impl Parse for AttributeArg {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let key: AttributeKey = input.parse()?;
        if input.peek(Token![=]) {
            input.parse::<Token![=]>()?;
            return Ok(Self { key, value: input.parse()?, bare: false });
        }
        match key.bare_name() {
            Some(parameter) => {
                let value = Expr::Path(ExprPath { attrs: Vec::new(), qself: None, path: parameter.clone().into() });
                Ok(Self { key, value, bare: true })
            }
            None => Err(syn::Error::new_spanned(
                &key,
                format!("attribute `{0}` needs a value, like `{0} = <expression>`", key.text()),
            )),
        }
    }
}

/// An attribute key: dotted identifiers (`item.id`, `exception.type`) or a string (`"http.route"`).
pub(crate) enum AttributeKey {
    Dotted(Vec<KeyPiece>),
    Literal(LitStr),
}

/// A piece of a dotted key, kept as written so an error can point at the piece at fault.
pub(crate) enum KeyPiece {
    Segment(Ident),
    Dot(Token![.]),
}

impl KeyPiece {
    fn text(&self) -> String {
        match self {
            KeyPiece::Segment(ident) => ident.unraw().to_string(),
            KeyPiece::Dot(_) => ".".to_owned(),
        }
    }

    fn span(&self) -> Span {
        match self {
            KeyPiece::Segment(ident) => ident.span(),
            KeyPiece::Dot(dot) => dot.span,
        }
    }
}

impl Parse for AttributeKey {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        if input.peek(LitStr) {
            return Ok(AttributeKey::Literal(input.parse()?));
        }
        let mut pieces = Vec::new();
        loop {
            if input.peek(Token![.]) {
                pieces.push(KeyPiece::Dot(input.parse()?));
            } else if input.peek(Ident::peek_any) {
                pieces.push(KeyPiece::Segment(input.call(Ident::parse_any)?));
            } else {
                break;
            }
        }
        if pieces.is_empty() {
            return Err(input.error("expected an attribute key, like `item.id` or `\"http.route\"`"));
        }
        Ok(AttributeKey::Dotted(pieces))
    }
}

impl AttributeKey {
    /// The key as it will be recorded.
    pub(crate) fn text(&self) -> String {
        match self {
            AttributeKey::Dotted(pieces) => pieces.iter().map(KeyPiece::text).collect(),
            AttributeKey::Literal(literal) => literal.value(),
        }
    }

    /// The token holding byte `offset` of [`text`](Self::text): the piece of a dotted key, the whole
    /// string of a literal one.
    pub(crate) fn span_at(&self, offset: usize) -> Span {
        match self {
            AttributeKey::Dotted(pieces) => piece_at(pieces, offset).map_or_else(Span::call_site, KeyPiece::span),
            AttributeKey::Literal(literal) => literal.span(),
        }
    }

    /// The parameter named by a key written as a single identifier.
    pub(crate) fn bare_name(&self) -> Option<&Ident> {
        match self {
            AttributeKey::Dotted(pieces) => match pieces.as_slice() {
                [KeyPiece::Segment(ident)] => Some(ident),
                _ => None,
            },
            AttributeKey::Literal(_) => None,
        }
    }
}

/// The piece holding byte `offset` of the key's text (the last one for an offset past the end).
fn piece_at(pieces: &[KeyPiece], offset: usize) -> Option<&KeyPiece> {
    let mut end = 0;
    pieces
        .iter()
        .find(|piece| {
            end += piece.text().len();
            offset < end
        })
        .or(pieces.last())
}

impl ToTokens for AttributeKey {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        match self {
            AttributeKey::Dotted(pieces) => {
                for piece in pieces {
                    match piece {
                        KeyPiece::Segment(ident) => tokens.append(ident.clone()),
                        KeyPiece::Dot(dot) => dot.to_tokens(tokens),
                    }
                }
            }
            AttributeKey::Literal(literal) => literal.to_tokens(tokens),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    fn parse(tokens: TokenStream) -> syn::Result<TracedArgs> {
        syn::parse2(tokens)
    }

    fn error_text(tokens: TokenStream) -> String {
        match parse(tokens) {
            Ok(_) => String::from("<parsed>"),
            Err(error) => error.into_iter().map(|error| error.to_string()).collect::<Vec<_>>().join(" | "),
        }
    }

    #[test]
    fn every_option_is_optional() {
        let args = parse(TokenStream::new()).expect("empty arguments parse");
        assert!(args.name.is_none() && args.kind.is_none() && args.attributes.is_empty());
    }

    #[test]
    fn all_options_together() {
        let args = parse(quote!(name = "load-item", kind = client, attributes(item.id = id, "http.route" = "/", q)))
            .expect("valid arguments parse");
        assert_eq!(args.name.map(|name| name.value()).as_deref(), Some("load-item"));
        assert_eq!(args.kind, Some(SpanKind::Client));
        let keys: Vec<String> = args.attributes.iter().map(|attr| attr.key.text()).collect();
        assert_eq!(keys, ["item.id", "http.route", "q"]);
        let bare = &args.attributes[2].value;
        assert_eq!(quote!(#bare).to_string(), "q");
    }

    #[test]
    fn keywords_may_be_key_segments() {
        let args = parse(quote!(attributes(exception.type = t, r#async.fn = f))).expect("keyword segments parse");
        let keys: Vec<String> = args.attributes.iter().map(|attr| attr.key.text()).collect();
        assert_eq!(keys, ["exception.type", "async.fn"]);
    }

    #[test]
    fn independent_problems_are_reported_together() {
        assert_eq!(
            error_text(quote!(nam = "x", kind = sever, name = 5)),
            "unknown option `nam`; the options are `name`, `kind`, `attributes`, `parent`, `root`, `links`, `level`, `metrics`, `skip` \
             | unknown span kind `sever`; expected `internal`, `server`, `client`, `producer` or `consumer` \
             | expected a string literal, like `name = \"load-item\"`"
        );
    }

    #[test]
    fn a_capitalised_span_kind_gets_a_hint() {
        assert_eq!(error_text(quote!(kind = Server)), "span kinds are written in lowercase: `kind = server`");
        assert_eq!(
            error_text(quote!(kind = "server")),
            "expected `internal`, `server`, `client`, `producer` or `consumer` as the span kind"
        );
    }

    #[test]
    fn a_repeated_option_is_reported_at_its_second_use() {
        assert_eq!(error_text(quote!(kind = server, kind = client)), "option `kind` is given more than once");
    }

    #[test]
    fn an_option_without_its_value_names_the_form() {
        assert_eq!(error_text(quote!(name)), "option `name` needs a value, like `name = \"load-item\"`");
        assert_eq!(error_text(quote!(name("x"))), "option `name` needs a value, like `name = \"load-item\"`");
        assert_eq!(error_text(quote!(kind, name = "x")), "option `kind` needs a value, like `kind = server`");
        assert_eq!(
            error_text(quote!(attributes = 1)),
            "option `attributes` takes a list, like `attributes(key = value, ...)`"
        );
    }

    #[test]
    fn parent_root_and_links_parse() {
        let args = parse(quote!(parent = &cx, links(a, Some(b.clone())))).expect("valid arguments parse");
        let parent = args.parent.expect("a parent");
        assert_eq!(quote!(#parent).to_string(), "& cx");
        assert_eq!(args.links.len(), 2);
        assert!(parse(quote!(root)).expect("root parses").root.is_some());
        assert_eq!(error_text(quote!(root = true)), "option `root` takes no value: write `root` alone");
        assert_eq!(error_text(quote!(parent)), "option `parent` needs a value, like `parent = &cx`");
        assert_eq!(
            error_text(quote!(links())),
            "`links(..)` needs at least one span context, like `links(span_context)`"
        );
    }

    #[test]
    fn levels_parse_and_each_mistake_lists_the_levels() {
        assert_eq!(parse(quote!(level = debug)).expect("a level").level, Some(SpanLevel::Debug));
        assert_eq!(parse(quote!(level = error)).expect("a level").level, Some(SpanLevel::Error));
        assert_eq!(
            error_text(quote!(level = verbose)),
            "unknown span level `verbose`; expected `error`, `warn`, `info`, `debug` or `trace`"
        );
        assert_eq!(error_text(quote!(level = Debug)), "span levels are written in lowercase: `level = debug`");
        assert_eq!(
            error_text(quote!(level = "debug")),
            "expected `error`, `warn`, `info`, `debug` or `trace` as the span level"
        );
        assert_eq!(error_text(quote!(level)), "option `level` needs a value, like `level = debug`");
        assert_eq!(error_text(quote!(level = warn, level = info)), "option `level` is given more than once");
    }

    #[test]
    fn a_dotted_key_without_value_asks_for_one() {
        assert_eq!(
            error_text(quote!(attributes(item.id))),
            "attribute `item.id` needs a value, like `item.id = <expression>`"
        );
    }

    #[test]
    fn offsets_map_to_the_piece_that_holds_them() {
        let args = parse(quote!(attributes(item..id = 1))).expect("malformed keys still parse");
        let key = &args.attributes[0].key;
        assert_eq!(key.text(), "item..id");
        let AttributeKey::Dotted(pieces) = key else { panic!("a dotted key") };
        let index_at =
            |offset| piece_at(pieces, offset).map(|found| pieces.iter().position(|p| std::ptr::eq(p, found)));
        assert_eq!(index_at(0), Some(Some(0)));
        assert_eq!(index_at(3), Some(Some(0)));
        assert_eq!(index_at(5), Some(Some(2)));
        assert_eq!(index_at(99), Some(Some(3)));
    }
}
