//! The arguments of `#[record_errors(...)]`: `response`, `message = ".."`, `status = 503`,
//! `request_id = false`. The status range is checked here, at the literal.

use syn::parse::{Parse, ParseStream};
use syn::{LitBool, LitInt, LitStr};

use crate::options::{self, OptionNames};

/// `#[record_errors]`'s options; `message`, `status` and `request_id` shape the response, so giving
/// one of them turns the response on as `response` does.
#[derive(Default)]
pub(crate) struct RecordErrorsArgs {
    pub(crate) response: bool,
    pub(crate) message: Option<LitStr>,
    pub(crate) status: Option<u16>,
    pub(crate) request_id: Option<bool>,
}

impl RecordErrorsArgs {
    /// Whether the function is a handler whose `Err` becomes the JSON error response.
    pub(crate) fn responds(&self) -> bool {
        self.response || self.message.is_some() || self.status.is_some() || self.request_id.is_some()
    }
}

impl Parse for RecordErrorsArgs {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let mut options = OptionNames::new(&["response", "message", "status", "request_id"]);
        let mut args = RecordErrorsArgs::default();
        let parsed = options::each_option(input, &mut options, |option, input, errors| {
            match option.name {
                "response" => {
                    options::flag(option, input, errors)?;
                    args.response = true;
                }
                "message" => {
                    args.message = options::value(option, input, errors, "message = \"try again later\"", |input| {
                        input.parse::<LitStr>()
                    })?;
                }
                "status" => {
                    let status =
                        options::value(option, input, errors, "status = 503", |input| input.parse::<LitInt>())?;
                    args.status = status.and_then(|status| errors.take(error_status(&status)));
                }
                _ => {
                    let request_id =
                        options::value(option, input, errors, "request_id = false", |input| input.parse::<LitBool>())?;
                    args.request_id = request_id.map(|flag| flag.value);
                }
            }
            Ok(())
        });
        options.errors.take(parsed);
        options.errors.finish(args)
    }
}

/// An HTTP error status: 400 to 599.
fn error_status(literal: &LitInt) -> syn::Result<u16> {
    match literal.base10_parse::<u16>() {
        Ok(status @ 400..=599) => Ok(status),
        _ => Err(syn::Error::new(
            literal.span(),
            format!("`status` must be an HTTP error status, 400 to 599, not `{literal}`"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use proc_macro2::TokenStream;
    use quote::quote;

    use super::*;

    fn parse(tokens: TokenStream) -> Result<RecordErrorsArgs, String> {
        syn::parse2::<RecordErrorsArgs>(tokens)
            .map_err(|error| error.into_iter().map(|error| error.to_string()).collect::<Vec<_>>().join(" | "))
    }

    #[test]
    fn without_options_it_only_records() {
        let args = parse(TokenStream::new()).expect("no options");
        assert!(!args.responds());
    }

    #[test]
    fn response_options_turn_the_response_on() {
        let args = parse(quote!(message = "try later", status = 503, request_id = false)).expect("valid options");
        assert!(args.responds());
        assert_eq!(args.status, Some(503));
        assert_eq!(args.request_id, Some(false));
        assert_eq!(args.message.map(|message| message.value()).as_deref(), Some("try later"));
        assert!(parse(quote!(response)).expect("response alone").responds());
    }

    #[test]
    fn statuses_outside_the_error_range_are_rejected() {
        assert_eq!(parse(quote!(status = 599)).map(|args| args.status), Ok(Some(599)));
        for status in [quote!(200), quote!(399), quote!(600), quote!(70000)] {
            assert_eq!(
                parse(quote!(status = #status)).err(),
                Some(format!("`status` must be an HTTP error status, 400 to 599, not `{status}`"))
            );
        }
    }

    #[test]
    fn unknown_and_repeated_options_are_all_reported() {
        assert_eq!(
            parse(quote!(respond, status = 500, status = 502)).err().as_deref(),
            Some(
                "unknown option `respond`; the options are `response`, `message`, `status`, `request_id` \
                 | option `status` is given more than once"
            )
        );
    }
}
