//! The arguments of `#[traced(...)]`, as written: syntax only. Key rules live in `check.rs`.

use proc_macro2::{Span, TokenStream, TokenTree};
use quote::{ToTokens, TokenStreamExt};
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream, Parser};
use syn::{Expr, ExprLit, ExprPath, Ident, Lit, LitStr, Token};

use crate::errors::Errors;

mod kw {
    syn::custom_keyword!(name);
    syn::custom_keyword!(kind);
    syn::custom_keyword!(attributes);
}

/// `#[traced(name = "..", kind = .., attributes(..))]`; every option is optional.
#[derive(Default)]
pub(crate) struct TracedArgs {
    pub(crate) name: Option<LitStr>,
    pub(crate) kind: Option<SpanKind>,
    pub(crate) attributes: Vec<AttributeArg>,
}

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
    let mut options = OptionNames::new(&["name", "kind", "attributes"]);
    let mut args = TracedArgs::default();
    let parsed = parse_traced_options(input, &mut options, &mut args);
    errors.extend(options.errors);
    if let Err(error) = parsed {
        errors.push(error);
        // Past a syntax error nothing more can be understood.
        skip_rest(input);
    }
    args
}

fn parse_traced_options(input: ParseStream, options: &mut OptionNames, args: &mut TracedArgs) -> syn::Result<()> {
    while !input.is_empty() {
        if input.peek(kw::name) {
            let key: kw::name = input.parse()?;
            options.first_use("name", key.span);
            input.parse::<Token![=]>()?;
            args.name = options.errors.take(span_name(input.parse()?));
        } else if input.peek(kw::kind) {
            let key: kw::kind = input.parse()?;
            options.first_use("kind", key.span);
            input.parse::<Token![=]>()?;
            args.kind = options.errors.take(SpanKind::from_expr(&input.parse()?));
        } else if input.peek(kw::attributes) {
            let key: kw::attributes = input.parse()?;
            options.first_use("attributes", key.span);
            let list;
            syn::parenthesized!(list in input);
            let entries = list.parse_terminated(AttributeArg::parse, Token![,])?;
            args.attributes.extend(entries);
        } else {
            options.unknown(input)?;
        }
        if !input.is_empty() {
            input.parse::<Token![,]>()?;
        }
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

/// The options a macro accepts: rejects one given twice (at its second use) and names the valid ones
/// when an unknown one shows up.
pub(crate) struct OptionNames {
    valid: &'static [&'static str],
    seen: Vec<&'static str>,
    pub(crate) errors: Errors,
}

impl OptionNames {
    pub(crate) fn new(valid: &'static [&'static str]) -> Self {
        Self { valid, seen: Vec::new(), errors: Errors::default() }
    }

    /// Notes a use of option `name`, reporting a repeat.
    pub(crate) fn first_use(&mut self, name: &'static str, span: Span) {
        if self.seen.contains(&name) {
            self.errors.push(syn::Error::new(span, format!("option `{name}` is given more than once")));
        } else {
            self.seen.push(name);
        }
    }

    /// Reports the unknown option at the cursor and skips it, up to the next `,`, so the options after
    /// it are still checked.
    pub(crate) fn unknown(&mut self, input: ParseStream) -> syn::Result<()> {
        let valid = self.valid.iter().map(|name| format!("`{name}`")).collect::<Vec<_>>().join(", ");
        let error = if input.peek(Ident::peek_any) {
            let option = input.call(Ident::parse_any)?;
            syn::Error::new(option.span(), format!("unknown option `{}`; the options are {valid}", option.unraw()))
        } else {
            input.error(format!("expected an option: {valid}"))
        };
        self.errors.push(error);
        skip_to_comma(input)
    }
}

fn skip_rest(input: ParseStream) {
    let _: syn::Result<()> = input.step(|cursor| {
        let mut rest = *cursor;
        while let Some((_, next)) = rest.token_tree() {
            rest = next;
        }
        Ok(((), rest))
    });
}

fn skip_to_comma(input: ParseStream) -> syn::Result<()> {
    input.step(|cursor| {
        let mut rest = *cursor;
        while let Some((token, next)) = rest.token_tree() {
            if matches!(&token, TokenTree::Punct(punct) if punct.as_char() == ',') {
                break;
            }
            rest = next;
        }
        Ok(((), rest))
    })
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
        let written = match value {
            Expr::Path(ExprPath { path, qself: None, attrs }) if attrs.is_empty() => path.get_ident(),
            _ => None,
        };
        let known = written.and_then(|ident| Self::ALL.iter().find(|(name, _)| ident == name));
        let expected = "expected `internal`, `server`, `client`, `producer` or `consumer`";
        let lowercase = written.map(|ident| ident.to_string().to_lowercase());
        let case_slip = lowercase.filter(|name| Self::ALL.iter().any(|(kind, _)| kind == name));
        match (known, written, case_slip) {
            (Some((_, kind)), _, _) => Ok(*kind),
            (None, Some(ident), Some(lowercase)) => {
                Err(syn::Error::new(ident.span(), format!("span kinds are written in lowercase: `kind = {lowercase}`")))
            }
            (None, Some(ident), None) => {
                Err(syn::Error::new(ident.span(), format!("unknown span kind `{ident}`; {expected}")))
            }
            (None, None, _) => Err(syn::Error::new_spanned(value, format!("{expected} as the span kind"))),
        }
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
            "unknown option `nam`; the options are `name`, `kind`, `attributes` \
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
