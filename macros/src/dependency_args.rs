//! The arguments of `#[traced_dependency(...)]` and of the derive's `#[dependency(...)]`: syntax only.
//! Attribute keys are checked as `#[traced]`'s are (`check.rs`).

use syn::parse::{Parse, ParseStream, Parser};
use syn::{Ident, Type};

use crate::args::{self, TracedArgs};
use crate::errors::Errors;
use crate::options::{self, OptionNames};

/// The options of `#[traced_dependency]`.
pub(crate) const FUNCTION_OPTIONS: &[&str] = &["name", "attributes", "state", "extractor"];
/// The options of `#[derive(TracedDependency)]`'s `#[dependency(...)]`.
pub(crate) const DERIVE_OPTIONS: &[&str] = &["name", "state", "field_spans"];

/// Every option either macro knows; each macro accepts its own list of them.
#[derive(Default)]
pub(crate) struct DependencyArgs {
    /// `name` and `attributes(...)`, in `#[traced]`'s shape so its checks apply.
    pub(crate) span: TracedArgs,
    /// `state = AppState`: the state the parameters are checked against.
    pub(crate) state: Option<Type>,
    /// `extractor = Db`: the name of the extractor type (default: the function's name in UpperCamelCase).
    pub(crate) extractor: Option<Ident>,
    /// `field_spans`: one child span per field's extraction.
    pub(crate) field_spans: bool,
}

/// Parses the options in `lists` (one per attribute: the derive's may be spread over several), accepting
/// those in `valid`, each once in all; every problem goes to `errors`.
pub(crate) fn parse(
    lists: impl IntoIterator<Item = proc_macro2::TokenStream>,
    valid: &'static [&'static str],
    errors: &mut Errors,
) -> DependencyArgs {
    let mut options = OptionNames::new(valid);
    let mut args = DependencyArgs::default();
    for tokens in lists {
        let parsed = (|input: ParseStream| {
            options::each_option(input, &mut options, |option, input, errors| {
                match option.name {
                    "state" => args.state = options::value(option, input, errors, "state = AppState", Type::parse)?,
                    "extractor" => {
                        args.extractor = options::value(option, input, errors, "extractor = Db", Ident::parse)?;
                    }
                    "field_spans" => {
                        options::flag(option, input, errors)?;
                        args.field_spans = true;
                    }
                    // `name` and `attributes`, parsed and hinted as `#[traced]` does.
                    _ => args::parse_span_option(option, input, errors, &mut args.span)?,
                }
                Ok(())
            })
        })
        .parse2(tokens);
        options.errors.take(parsed);
    }
    errors.extend(options.errors);
    args
}

#[cfg(test)]
mod tests {
    use quote::quote;

    use super::*;

    fn parse_with(tokens: proc_macro2::TokenStream, valid: &'static [&'static str]) -> Result<DependencyArgs, String> {
        let mut errors = Errors::default();
        let args = parse([tokens], valid, &mut errors);
        errors
            .finish(args)
            .map_err(|error| error.into_iter().map(|error| error.to_string()).collect::<Vec<_>>().join(" | "))
    }

    #[test]
    fn function_options_parse() {
        let args = parse_with(
            quote!(name = "database_operation", attributes(db.system = "postgresql"), state = AppState, extractor = Db),
            FUNCTION_OPTIONS,
        )
        .expect("valid options");
        assert_eq!(args.span.name.map(|name| name.value()).as_deref(), Some("database_operation"));
        assert_eq!(args.span.attributes.len(), 1);
        assert_eq!(args.extractor.map(|ident| ident.to_string()).as_deref(), Some("Db"));
        assert!(args.state.is_some());
    }

    #[test]
    fn each_macro_knows_only_its_options() {
        assert_eq!(
            parse_with(quote!(field_spans), FUNCTION_OPTIONS).err().as_deref(),
            Some("unknown option `field_spans`; the options are `name`, `attributes`, `state`, `extractor`")
        );
        assert!(parse_with(quote!(field_spans, name = "context"), DERIVE_OPTIONS).is_ok_and(|args| args.field_spans));
        assert_eq!(
            parse_with(quote!(name = "", nme = "x", name = "y"), DERIVE_OPTIONS).err().as_deref(),
            Some(
                "the span name must not be empty | unknown option `nme`; the options are `name`, `state`, `field_spans` \
                 | option `name` is given more than once"
            )
        );
    }
}
