//! The option loop shared by every macro's argument parser: `option, option = value, option(list)`.
//!
//! Names are checked here (unknown ones named with the valid choices, repeats refused at their second
//! use) and the shape of what follows a name (`= value`, `(list)` or nothing) is checked by the helpers
//! below, each with a message naming the option and its expected form. Every problem is recorded and
//! the loop goes on at the next `,`, so one build shows them all.

use proc_macro2::{Span, TokenStream, TokenTree};
use syn::buffer::Cursor;
use syn::ext::IdentExt;
use syn::parse::{ParseBuffer, ParseStream};
use syn::token::Paren;
use syn::{Ident, Token};

use crate::errors::Errors;

/// The options a macro accepts, and the problems found so far.
pub(crate) struct OptionNames {
    valid: &'static [&'static str],
    seen: Vec<&'static str>,
    /// Each option as written, name and value, for a macro that passes options on (`#[traced]` on an
    /// impl block hands them to each method).
    pub(crate) written: Vec<(&'static str, TokenStream)>,
    pub(crate) errors: Errors,
}

impl OptionNames {
    pub(crate) fn new(valid: &'static [&'static str]) -> Self {
        Self { valid, seen: Vec::new(), written: Vec::new(), errors: Errors::default() }
    }

    /// Notes a use of option `name`, reporting a repeat.
    fn first_use(&mut self, name: &'static str, span: Span) {
        if self.seen.contains(&name) {
            self.errors.push(syn::Error::new(span, format!("option `{name}` is given more than once")));
        } else {
            self.seen.push(name);
        }
    }

    fn valid_list(&self) -> String {
        // `__` options are written by the macros themselves, never by users.
        let public = self.valid.iter().filter(|name| !name.starts_with("__"));
        public.map(|name| format!("`{name}`")).collect::<Vec<_>>().join(", ")
    }

    /// Reports the unknown option at the cursor and skips it, up to the next `,`.
    fn unknown(&mut self, input: ParseStream) -> syn::Result<()> {
        let valid = self.valid_list();
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

/// One option of the list: its name as written (the valid spelling) and where it was written.
pub(crate) struct OptionName {
    pub(crate) name: &'static str,
    pub(crate) ident: Ident,
}

/// Parses `input` as a comma-separated list of options, calling `option` with each valid name and
/// the stream positioned after it. A syntax error `option` returns stops the loop (nothing after it can
/// be understood); problems it records in `errors` do not.
pub(crate) fn each_option(
    input: ParseStream,
    options: &mut OptionNames,
    mut option: impl FnMut(&OptionName, ParseStream, &mut Errors) -> syn::Result<()>,
) -> syn::Result<()> {
    while !input.is_empty() {
        let known = input.fork().call(Ident::parse_any).ok().and_then(|ident| {
            let written = ident.unraw().to_string();
            options.valid.iter().find(|valid| **valid == written).map(|name| OptionName { name, ident })
        });
        match known {
            Some(name) => {
                let start = input.cursor();
                input.call(Ident::parse_any)?;
                options.first_use(name.name, name.ident.span());
                option(&name, input, &mut options.errors)?;
                options.written.push((name.name, tokens_between(start, input.cursor())));
            }
            None => options.unknown(input)?,
        }
        if !input.is_empty() {
            input.parse::<Token![,]>()?;
        }
    }
    Ok(())
}

/// `= value` after `option`; `form` is how the option is written (`name = "load-item"`). Without the
/// `=`, the error names the option and its form, the rest of the option is skipped and `None` returned.
pub(crate) fn value<T>(
    option: &OptionName,
    input: ParseStream,
    errors: &mut Errors,
    form: &str,
    parse: impl FnOnce(ParseStream) -> syn::Result<T>,
) -> syn::Result<Option<T>> {
    if input.peek(Token![=]) {
        input.parse::<Token![=]>()?;
        if input.is_empty() || input.peek(Token![,]) {
            errors.push(missing(option, input, "needs a value after `=`", form));
            return Ok(None);
        }
        return parse(input).map(Some);
    }
    errors.push(missing(option, input, "needs a value", form));
    skip_to_comma(input)?;
    Ok(None)
}

/// `(list)` after `option`, whose content is returned; without parentheses, an error naming the form.
pub(crate) fn list<'a>(
    option: &OptionName,
    input: &ParseBuffer<'a>,
    errors: &mut Errors,
    form: &str,
) -> syn::Result<Option<ParseBuffer<'a>>> {
    if input.peek(Paren) {
        let content;
        syn::parenthesized!(content in input);
        return Ok(Some(content));
    }
    errors.push(missing(option, input, "takes a list", form));
    skip_to_comma(input)?;
    Ok(None)
}

/// A flag: nothing may follow `option`.
pub(crate) fn flag(option: &OptionName, input: ParseStream, errors: &mut Errors) -> syn::Result<()> {
    if !input.is_empty() && !input.peek(Token![,]) {
        let name = option.name;
        let message = format!("option `{name}` takes no value: write `{name}` alone");
        errors.push(syn::Error::new(option.ident.span(), message));
        skip_to_comma(input)?;
    }
    Ok(())
}

/// The error for an option written without its value: at the option's name (and what follows it).
fn missing(option: &OptionName, input: ParseStream, problem: &str, form: &str) -> syn::Error {
    let message = format!("option `{}` {problem}, like `{form}`", option.name);
    let mut tokens = TokenStream::new();
    tokens.extend([TokenTree::Ident(option.ident.clone())]);
    if let Some((next, _)) = input.cursor().token_tree() {
        tokens.extend([next]);
    }
    syn::Error::new_spanned(tokens, message)
}

/// The tokens from `start` up to `end`, a later cursor of the same stream.
fn tokens_between(start: Cursor, end: Cursor) -> TokenStream {
    let mut tokens = TokenStream::new();
    let mut cursor = start;
    while cursor < end {
        let Some((token, next)) = cursor.token_tree() else { break };
        tokens.extend([token]);
        cursor = next;
    }
    tokens
}

/// Skips every token left.
pub(crate) fn skip_rest(input: ParseStream) {
    let _: syn::Result<()> = input.step(|cursor| {
        let mut rest = *cursor;
        while let Some((_, next)) = rest.token_tree() {
            rest = next;
        }
        Ok(((), rest))
    });
}

/// Skips up to the next `,` (not included).
pub(crate) fn skip_to_comma(input: ParseStream) -> syn::Result<()> {
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

#[cfg(test)]
mod tests {
    use quote::quote;
    use syn::parse::Parser;
    use syn::LitStr;

    use super::*;

    /// Parses `tokens` with options `a = "..."`, `b(...)` and the flag `c`; returns what was seen and
    /// every message.
    fn run(tokens: TokenStream) -> (Vec<String>, Vec<String>) {
        let mut options = OptionNames::new(&["a", "b", "c"]);
        let mut seen = Vec::new();
        let parsed = (|input: ParseStream| {
            each_option(input, &mut options, |option, input, errors| {
                match option.name {
                    "a" => {
                        if let Some(text) = value(option, input, errors, "a = \"x\"", |input| input.parse::<LitStr>())?
                        {
                            seen.push(format!("a={}", text.value()));
                        }
                    }
                    "b" => {
                        if let Some(content) = list(option, input, errors, "b(x)")? {
                            seen.push(format!("b({})", content.parse::<TokenStream>()?));
                        }
                    }
                    _ => {
                        flag(option, input, errors)?;
                        seen.push("c".to_owned());
                    }
                }
                Ok(())
            })
        })
        .parse2(tokens);
        options.errors.take(parsed);
        let messages = match options.errors.finish(()) {
            Ok(()) => Vec::new(),
            Err(error) => error.into_iter().map(|error| error.to_string()).collect(),
        };
        (seen, messages)
    }

    #[test]
    fn every_form_parses() {
        let (seen, messages) = run(quote!(a = "x", b(1, 2), c,));
        assert_eq!(seen, ["a=x", "b(1 , 2)", "c"]);
        assert!(messages.is_empty(), "{messages:?}");
    }

    #[test]
    fn an_option_without_its_value_names_its_form_and_the_rest_is_still_read() {
        let (seen, messages) = run(quote!(a, b, c = 1, a = , zz, c));
        assert_eq!(seen, ["c", "c"]);
        assert_eq!(
            messages,
            [
                "option `a` needs a value, like `a = \"x\"`",
                "option `b` takes a list, like `b(x)`",
                "option `c` takes no value: write `c` alone",
                "option `a` is given more than once",
                "option `a` needs a value after `=`, like `a = \"x\"`",
                "unknown option `zz`; the options are `a`, `b`, `c`",
                "option `c` is given more than once",
            ]
        );
    }

    #[test]
    fn each_option_is_kept_as_written() {
        let mut options = OptionNames::new(&["a", "b", "c"]);
        let parsed = (|input: ParseStream| {
            each_option(input, &mut options, |option, input, _| {
                if option.name == "b" {
                    input.parse::<syn::Expr>()?;
                }
                if option.name == "a" {
                    input.parse::<Token![=]>()?;
                    input.parse::<syn::Expr>()?;
                }
                Ok(())
            })
        })
        .parse2(quote!(a = Vec::<u8, A>::new(), c, b(x, y)));
        assert!(parsed.is_ok());
        let written: Vec<String> = options.written.iter().map(|(name, tokens)| format!("{name}: {tokens}")).collect();
        assert_eq!(written, ["a: a = Vec :: < u8 , A > :: new ()", "c: c", "b: b (x , y)"]);
    }

    #[test]
    fn a_non_identifier_is_not_an_option() {
        let (_, messages) = run(quote!(5, a = "x"));
        assert_eq!(messages, ["expected an option: `a`, `b`, `c`"]);
    }
}
