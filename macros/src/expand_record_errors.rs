//! The code `#[record_errors]` generates: the body runs as before, then its `Err` is recorded (and, for
//! a handler, turned into the JSON error response). Everything was checked before: nothing here fails.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned, ToTokens};
use syn::spanned::Spanned;
use syn::{Block, Expr, ExprAsync, Ident, ItemFn, ReturnType, Stmt, Type};

use crate::item::{Body, FnItem};
use crate::record_errors_args::RecordErrorsArgs;

/// The function with a body that records its `Err`; `result` is its (checked) `Result` type and
/// `function` the same item as `item`, whose signature a handler changes.
pub(crate) fn expand(args: &RecordErrorsArgs, item: &FnItem, function: &ItemFn, result: &Type) -> TokenStream {
    let ret = ret_at(result);
    let run = match item.body() {
        Body::Sync(block) => quote_spanned!(result.span()=> ::traced::__private::call_once(move || -> #result #block)),
        Body::Async(block) => {
            quote_spanned!(result.span()=> ::traced::__private::errors::with_output::<#result, _>(async move #block).await)
        }
        Body::BoxedFuture { pin, future } => {
            let recorded = recorded_future(future);
            return item.with_body(quote!(#pin(#recorded)));
        }
        Body::AsyncBlock(future) => return item.with_body(recorded_future(future)),
    };
    if args.responds() {
        let respond = respond(args, result);
        handler(function, result, quote!(let #ret: #result = #run; #respond))
    } else {
        let observe = observe(result);
        item.with_body(quote!(let #ret: #result = #run; #observe #ret))
    }
}

fn local(name: &str) -> Ident {
    Ident::new(name, Span::mixed_site())
}

/// Turns `&E` into what the runtime records, where `E` is concrete.
/// Spanned at the return type, like the call it is passed to.
fn describe(result: &impl Spanned) -> TokenStream {
    let error = local("__traced_error");
    quote_spanned!(result.span()=> |#error| ::traced::__traced_failure!(#error))
}

/// The return value, named with the return type's span: a type that is not a `Result` is reported
/// there (the compiler moves errors in tokens of the macro's own hygiene to the attribute). The body
/// runs before this binding exists, so it cannot see the name.
fn ret_at(result: &impl Spanned) -> Ident {
    Ident::new("__traced_ret", result.span())
}

/// Records the `Err` of the return value.
fn observe(result: &impl Spanned) -> TokenStream {
    let ret = ret_at(result);
    let describe = describe(result);
    quote_spanned!(result.span()=> ::traced::__private::errors::observe(&#ret, #describe);)
}

/// A body that is a future (`#[async_trait]`'s `Box::pin(async move { .. })`, an `async` block): the
/// error is recorded inside the future.
fn recorded_future(future: &ExprAsync) -> TokenStream {
    let ret = ret_at(future);
    let observe = observe(future);
    quote! {
        async move {
            let #ret = #future.await;
            #observe
            #ret
        }
    }
}

/// The handler's `Err` becomes the configured JSON error response.
fn respond(args: &RecordErrorsArgs, result: &Type) -> TokenStream {
    let ret = ret_at(result);
    let status = args.status.unwrap_or(500);
    let message = match &args.message {
        Some(message) => quote!(::core::option::Option::Some(#message)),
        None => quote!(::core::option::Option::None),
    };
    let request_id = args.request_id.unwrap_or(true);
    let describe = describe(result);
    quote_spanned! {result.span()=>
        static __TRACED_RESPONSE: ::traced::__private::errors::ResponseOptions =
            ::traced::__private::errors::ResponseOptions::new(#status, #message, #request_id);
        ::traced::__private::errors::respond(#ret, &__TRACED_RESPONSE, #describe)
    }
}

/// The function as written, returning `impl IntoResponse` (the `Ok` value or the error response)
/// instead of `result`.
fn handler(function: &ItemFn, result: &Type, body: TokenStream) -> TokenStream {
    let mut handler = function.clone();
    let arrow = match &function.sig.output {
        ReturnType::Type(arrow, _) => *arrow,
        ReturnType::Default => syn::Token![->](result.span()),
    };
    let output = quote_spanned!(result.span()=> impl ::traced::__private::errors::IntoResponse);
    handler.sig.output = ReturnType::Type(arrow, Box::new(Type::Verbatim(output)));
    let brace_token = function.block.brace_token;
    handler.block = Box::new(Block { brace_token, stmts: vec![Stmt::Expr(Expr::Verbatim(body), None)] });
    handler.into_token_stream()
}
