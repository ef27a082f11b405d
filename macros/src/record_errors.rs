//! `#[record_errors]`: parse the options and the function, check the function can fail, expand.
//! Also lets `#[traced]` written above it step aside, so the error lands on the traced span.

use proc_macro2::{Delimiter, TokenStream, TokenTree};
use quote::quote;
use syn::spanned::Spanned;
use syn::{ItemFn, ReturnType, Type};

use crate::errors::Errors;
use crate::item::{Body, FnItem, Output};
use crate::record_errors_args::RecordErrorsArgs;

/// The whole macro: every problem of the options and the function is reported at once.
pub(crate) fn record_errors(args: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    let mut errors = Errors::default();
    let args = errors.take(syn::parse2::<RecordErrorsArgs>(args));
    let parsed = errors.take(FnItem::parse("record_errors", item));
    let result = parsed.as_ref().and_then(|parsed| errors.take(result_type(parsed, parsed.item_fn())));
    if let (Some(args), Some(parsed)) = (&args, &parsed) {
        if args.responds() {
            errors.take(can_be_a_handler(parsed, parsed.item_fn()));
        }
    }
    match (args, parsed, result) {
        (Some(args), Some(parsed), Some(result)) => {
            errors.finish(()).map(|()| crate::expand_record_errors::expand(&args, &parsed, parsed.item_fn(), &result))
        }
        _ => errors.finish(TokenStream::new()),
    }
}

/// The return type, which must be able to be a `Result`. A type that is not one is reported by the
/// compiler at the type (the runtime's `ReturnsResult` says so); here only what cannot be one at all.
fn result_type(item: &FnItem, function: &ItemFn) -> syn::Result<Type> {
    let problem = match item.output() {
        Output::Value(ty) => return Ok(*ty),
        Output::Unit => "this one returns `()`",
        Output::Never => "this one never returns",
        Output::Opaque => "spell the `Result` type out instead of `impl Trait`",
    };
    let culprit = match &function.sig.output {
        ReturnType::Type(_, ty) => ty.span(),
        ReturnType::Default => function.sig.paren_token.span.close(),
    };
    Err(syn::Error::new(culprit, format!("`#[record_errors]` needs a function that returns a `Result`; {problem}")))
}

/// `response` makes the function return `impl IntoResponse`, which an `#[async_trait]` method cannot.
fn can_be_a_handler(item: &FnItem, function: &ItemFn) -> syn::Result<()> {
    match item.body() {
        Body::BoxedFuture { .. } => Err(syn::Error::new_spanned(
            &function.sig.ident,
            "`#[record_errors(response)]` makes an axum handler, which cannot be an `#[async_trait]` method",
        )),
        Body::Sync(_) | Body::Async(_) | Body::AsyncBlock(_) => Ok(()),
    }
}

/// `#[traced] #[record_errors] fn ..`: `#[traced]` expands first and would end its span before the
/// error is recorded, so the error would land on the parent span. Re-emits the function as
/// `#[record_errors] #[::traced::traced(args)] fn ..`, unexpanded, to run in the order that works.
pub(crate) fn defer_traced(args: &TokenStream, item: &TokenStream) -> Option<TokenStream> {
    if !has_record_errors_attribute(item) {
        return None;
    }
    let mut function = syn::parse2::<ItemFn>(item.clone()).ok()?;
    let position = function
        .attrs
        .iter()
        .position(|attr| attr.path().segments.last().is_some_and(|segment| segment.ident == "record_errors"))?;
    let record_errors = function.attrs.remove(position);
    Some(quote!(#record_errors #[::traced::traced(#args)] #function))
}

/// A cheap look at the outer attributes (the tokens before the body) for one named `record_errors`.
fn has_record_errors_attribute(item: &TokenStream) -> bool {
    item.clone()
        .into_iter()
        .take_while(|token| !matches!(token, TokenTree::Group(group) if group.delimiter() == Delimiter::Brace))
        .any(|token| match token {
            TokenTree::Group(group) if group.delimiter() == Delimiter::Bracket => group
                .stream()
                .into_iter()
                .any(|token| matches!(&token, TokenTree::Ident(ident) if ident == "record_errors")),
            _ => false,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(item: TokenStream) -> String {
        record_errors(TokenStream::new(), item).err().map(|error| error.to_string()).unwrap_or_default()
    }

    #[test]
    fn functions_that_cannot_fail_are_rejected() {
        assert_eq!(
            error(quote!(
                fn f() {}
            )),
            "`#[record_errors]` needs a function that returns a `Result`; this one returns `()`"
        );
        assert_eq!(
            error(quote!(
                fn f() -> ! {
                    loop {}
                }
            )),
            "`#[record_errors]` needs a function that returns a `Result`; this one never returns"
        );
        assert_eq!(
            error(quote!(fn f() -> impl Sized { 1 })),
            "`#[record_errors]` needs a function that returns a `Result`; spell the `Result` type out instead of `impl Trait`"
        );
        assert_eq!(
            error(quote!(
                fn f() -> Result<u8, E> {
                    Ok(1)
                }
            )),
            ""
        );
    }

    #[test]
    fn traced_above_record_errors_steps_aside() {
        let item = quote!(
            #[inline]
            #[traced::record_errors(response)]
            async fn f() -> Result<u8, E> {
                Ok(1)
            }
        );
        let reordered = defer_traced(&quote!(name = "f"), &item).map(|tokens| tokens.to_string());
        assert_eq!(
            reordered,
            Some(
                quote!(
                    #[traced::record_errors(response)]
                    #[::traced::traced(name = "f")]
                    #[inline]
                    async fn f() -> Result<u8, E> {
                        Ok(1)
                    }
                )
                .to_string()
            )
        );
        assert!(defer_traced(
            &TokenStream::new(),
            &quote!(
                #[inline]
                fn record_errors() {}
            )
        )
        .is_none());
    }
}
