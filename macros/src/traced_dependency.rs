//! `#[traced_dependency]` and `#[derive(TracedDependency)]`: parse, check, and build the model the
//! expansion works from (`expand_traced_dependency.rs`, which `lib.rs` calls with it).

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote};
use syn::ext::IdentExt;
use syn::{
    Data, DeriveInput, Fields, FnArg, GenericArgument, Ident, ItemFn, Member, Pat, PathArguments, ReturnType, Type,
    Visibility,
};

use crate::dependency_args::{self, DependencyArgs, DERIVE_OPTIONS, FUNCTION_OPTIONS};
use crate::errors::Errors;
use crate::item::FnItem;

/// What the function returns, as the dependency's value.
pub(crate) enum Returns {
    /// The value itself (`()` when there is no `->`).
    Value(Type),
    /// A type whose name ends in `Result`: `Err` rejects the request.
    Result(Type),
}

/// A checked `#[traced_dependency]` function.
pub(crate) struct DependencyFn {
    pub(crate) function: ItemFn,
    pub(crate) parameters: Vec<(Pat, Type)>,
    pub(crate) returns: Returns,
    pub(crate) extractor: Ident,
    pub(crate) common: Common,
}

/// A checked `#[derive(TracedDependency)]` struct.
pub(crate) struct DependencyStruct {
    pub(crate) ident: Ident,
    pub(crate) fields: Vec<(Member, Type)>,
    pub(crate) field_spans: bool,
    pub(crate) common: Common,
}

/// What both forms share.
pub(crate) struct Common {
    pub(crate) span_name: String,
    pub(crate) attributes: Vec<crate::args::AttributeArg>,
    pub(crate) vis: Visibility,
    /// The state the parameters are checked against.
    pub(crate) check_state: TokenStream,
}

/// The `#[traced_dependency]` function, checked; every problem of the options and the function at once.
pub(crate) fn check_fn(args: TokenStream, item: TokenStream) -> syn::Result<DependencyFn> {
    let mut errors = Errors::default();
    let args = dependency_args::parse([args], FUNCTION_OPTIONS, &mut errors);
    errors.take(crate::check::traced_args(&args.span));
    let checked = errors.take(FnItem::parse("traced_dependency", item)).and_then(|function| {
        let parameters = function.parameter_names();
        errors.take(crate::check::bare_names_are_parameters(&args.span, &function.name(), &parameters));
        errors.take(dependency_fn(args, function.into_item_fn()))
    });
    errors.result(checked)
}

/// The `#[derive(TracedDependency)]` struct, checked.
pub(crate) fn check_struct(item: TokenStream) -> syn::Result<DependencyStruct> {
    let input = syn::parse2::<DeriveInput>(item)?;
    let mut errors = Errors::default();
    // Every `#[dependency(..)]` attribute: each option counts once, wherever it is written.
    let lists: Vec<TokenStream> = input
        .attrs
        .iter()
        .filter(|attribute| attribute.path().is_ident("dependency"))
        .filter_map(|attribute| errors.take(attribute.meta.require_list().map(|list| list.tokens.clone())))
        .collect();
    let args = dependency_args::parse(lists, DERIVE_OPTIONS, &mut errors);
    let checked = errors.take(dependency_struct(args, input));
    errors.result(checked)
}

fn dependency_fn(args: DependencyArgs, function: ItemFn) -> syn::Result<DependencyFn> {
    let mut errors = Errors::default();
    let sig = &function.sig;
    if sig.asyncness.is_none() {
        errors.push(syn::Error::new_spanned(
            sig.fn_token,
            "`#[traced_dependency]` needs an `async fn`: axum extracts asynchronously, so write `async fn`",
        ));
    }
    if !sig.generics.params.is_empty() {
        errors.push(syn::Error::new_spanned(
            &sig.generics,
            "a `#[traced_dependency]` cannot be generic: handlers name its extractor type",
        ));
    }
    let mut parameters = Vec::new();
    for input in &sig.inputs {
        match input {
            FnArg::Typed(typed) => parameters.push(((*typed.pat).clone(), (*typed.ty).clone())),
            FnArg::Receiver(receiver) => errors.push(syn::Error::new_spanned(
                receiver,
                "a `#[traced_dependency]` is a free `async fn`; its parameters are extractors, not `self`",
            )),
        }
    }
    let returns = errors.take(returns(&sig.output));
    let name = sig.ident.unraw().to_string();
    let extractor = match &args.extractor {
        Some(extractor) => Some(extractor.clone()),
        None => errors.take(extractor_name(&sig.ident, &name)),
    };
    let types: Vec<&Type> = parameters.iter().map(|(_, ty)| ty).collect();
    let common = common(args, name, function.vis.clone(), &types);
    let unit = Type::Tuple(syn::TypeTuple { paren_token: Default::default(), elems: Default::default() });
    let (returns, extractor) = errors.result(returns.zip(extractor))?;
    let returns = returns.unwrap_or(Returns::Value(unit));
    Ok(DependencyFn { function, parameters, returns, extractor, common })
}

fn dependency_struct(args: DependencyArgs, input: DeriveInput) -> syn::Result<DependencyStruct> {
    if !input.generics.params.is_empty() {
        return Err(syn::Error::new_spanned(
            &input.generics,
            "a `TracedDependency` cannot be generic: handlers name it as `Depends<YourStruct>`",
        ));
    }
    let Data::Struct(data) = input.data else {
        return Err(syn::Error::new(
            input.ident.span(),
            "`TracedDependency` is derived for structs whose fields are extractors",
        ));
    };
    let fields: Vec<(Member, Type)> = match data.fields {
        Fields::Named(named) => {
            named.named.into_iter().filter_map(|field| Some((Member::Named(field.ident?), field.ty))).collect()
        }
        Fields::Unnamed(unnamed) => {
            unnamed.unnamed.into_iter().enumerate().map(|(index, field)| (Member::from(index), field.ty)).collect()
        }
        Fields::Unit => Vec::new(),
    };
    let types: Vec<&Type> = fields.iter().map(|(_, ty)| ty).collect();
    let field_spans = args.field_spans;
    let common = common(args, input.ident.unraw().to_string(), input.vis, &types);
    Ok(DependencyStruct { ident: input.ident, fields, field_spans, common })
}

fn common(args: DependencyArgs, default_name: String, vis: Visibility, types: &[&Type]) -> Common {
    let span_name = args.span.name.map_or(default_name, |name| name.value());
    let check_state = args.state.map_or_else(|| inferred_state(types), |state| quote!(#state));
    Common { span_name, attributes: args.span.attributes, vis, check_state }
}

fn returns(output: &ReturnType) -> syn::Result<Option<Returns>> {
    let ty = match output {
        ReturnType::Default => return Ok(None),
        ReturnType::Type(_, ty) => &**ty,
    };
    if let Type::ImplTrait(_) = ty {
        return Err(syn::Error::new_spanned(
            ty,
            "a dependency's value is named by handlers: return a type, not `impl Trait`",
        ));
    }
    let is_result = match ty {
        Type::Path(path) => {
            path.path.segments.last().is_some_and(|segment| segment.ident.to_string().ends_with("Result"))
        }
        _ => false,
    };
    Ok(Some(if is_result { Returns::Result(ty.clone()) } else { Returns::Value(ty.clone()) }))
}

/// The `T` of the first `State<T>` parameter, else `()`: the state a dependency is most likely used
/// with. `state = ..` overrides it.
fn inferred_state(types: &[&Type]) -> TokenStream {
    let state = types.iter().find_map(|ty| {
        let Type::Path(path) = ty else { return None };
        let last = path.path.segments.last().filter(|segment| segment.ident == "State")?;
        let PathArguments::AngleBracketed(arguments) = &last.arguments else { return None };
        match arguments.args.first() {
            Some(GenericArgument::Type(state)) if arguments.args.len() == 1 => Some(quote!(#state)),
            _ => None,
        }
    });
    state.unwrap_or_else(|| quote!(()))
}

/// The extractor type named after the function `ident` (`name` unraw): a function whose name starts with
/// a digit once its underscores are gone (`_2fa`) cannot give one, and must name it.
fn extractor_name(ident: &Ident, name: &str) -> syn::Result<Ident> {
    let camel = upper_camel_case(name);
    if camel.starts_with(|c: char| c.is_ascii_digit()) {
        let message = format!(
            "the extractor type is named after the function in UpperCamelCase, and `{camel}` is no type name; \
             name it with `#[traced_dependency(extractor = Name)]`"
        );
        return Err(syn::Error::new(ident.span(), message));
    }
    Ok(Ident::new(&camel, ident.span()))
}

/// `database_operation` -> `DatabaseOperation`; a name of underscores only gives `Dependency`.
fn upper_camel_case(name: &str) -> String {
    let camel: String = name
        .split('_')
        .filter(|word| !word.is_empty())
        .map(|word| {
            let mut chars = word.chars();
            chars.next().map(|first| first.to_uppercase().chain(chars).collect::<String>()).unwrap_or_default()
        })
        .collect();
    if camel.is_empty() {
        return "Dependency".to_owned();
    }
    camel
}

/// The hidden type the extractor alias points at.
pub(crate) fn marker(extractor: &Ident) -> Ident {
    format_ident!("__TracedDependency{}", extractor, span = Span::call_site())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extractor_names_are_upper_camel_case() {
        assert_eq!(upper_camel_case("db"), "Db");
        assert_eq!(upper_camel_case("database_operation"), "DatabaseOperation");
        assert_eq!(upper_camel_case("_current__user_"), "CurrentUser");
        assert_eq!(upper_camel_case("__"), "Dependency");
    }

    #[test]
    fn the_checked_state_comes_from_a_state_parameter() {
        let types: Vec<Type> = vec![syn::parse_quote!(Path<u64>), syn::parse_quote!(axum::extract::State<Pool>)];
        let refs: Vec<&Type> = types.iter().collect();
        assert_eq!(inferred_state(&refs).to_string(), "Pool");
        assert_eq!(inferred_state(&refs[..1]).to_string(), "()");
    }

    fn messages<T>(checked: syn::Result<T>) -> Vec<String> {
        match checked {
            Ok(_) => Vec::new(),
            Err(error) => error.into_iter().map(|error| error.to_string()).collect(),
        }
    }

    #[test]
    fn a_bare_attribute_name_must_be_a_parameter() {
        let checked = check_fn(
            quote!(attributes(user_id, pool.size = 1)),
            quote!(
                async fn current(State(pool): State<Pool>) -> u8 {
                    1
                }
            ),
        );
        assert_eq!(
            messages(checked),
            ["`user_id` is not a parameter of `current` (its parameters are `pool`); \
              record another value with `user_id = <expression>`"]
        );
    }

    #[test]
    fn options_spread_over_several_dependency_attributes_all_apply_and_count_once() {
        let checked = check_struct(quote!(
            #[dependency(name = "context")]
            #[derive(Debug)]
            #[dependency(field_spans)]
            struct Context {
                user: User,
            }
        ));
        let checked = checked.expect("valid options");
        assert_eq!((checked.common.span_name.as_str(), checked.field_spans), ("context", true));
        let repeated = check_struct(quote!(
            #[dependency(name = "a")]
            #[dependency(name = "b")]
            struct Context;
        ));
        assert_eq!(messages(repeated), ["option `name` is given more than once"]);
    }

    #[test]
    fn a_name_that_gives_no_type_name_asks_for_one() {
        let item = quote!(
            async fn _2fa(headers: HeaderMap) -> bool {
                true
            }
        );
        assert_eq!(
            messages(check_fn(TokenStream::new(), item.clone())),
            ["the extractor type is named after the function in UpperCamelCase, and `2fa` is no type name; \
              name it with `#[traced_dependency(extractor = Name)]`"]
        );
        let named = check_fn(quote!(extractor = TwoFactor), item).map(|dependency| dependency.extractor.to_string());
        assert_eq!(named.ok().as_deref(), Some("TwoFactor"));
    }

    #[test]
    fn sync_and_generic_functions_are_rejected() {
        let errors = |item| match check_fn(TokenStream::new(), item) {
            Ok(_) => Vec::new(),
            Err(error) => error.into_iter().map(|error| error.to_string()).collect(),
        };
        assert_eq!(
            errors(quote!(
                fn db<T>(state: State<T>) -> Conn {
                    todo()
                }
            )),
            [
                "`#[traced_dependency]` needs an `async fn`: axum extracts asynchronously, so write `async fn`",
                "a `#[traced_dependency]` cannot be generic: handlers name its extractor type",
            ]
        );
        assert!(errors(quote!(
            async fn db(State(pool): State<Pool>) -> Result<Conn, AppError> {
                pool.get().await
            }
        ))
        .is_empty());
    }
}
