//! The code `#[traced]` generates. Everything was checked before: nothing here can fail.
//!
//! Generated code names only `::traced::__private::..`, `::core::..` and locals prefixed `__traced_`
//! (made unreachable from user code with `Span::mixed_site()`), so it compiles whatever the user's
//! module shadows.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Block, ExprAsync, Ident, Type};

use crate::args::TracedArgs;
use crate::item::{Body, FnItem, Output};

/// The traced function: the same signature, a body that runs the original one inside a span.
pub(crate) fn expand(args: &TracedArgs, item: &FnItem) -> TokenStream {
    let start = start_span(args, item);
    let caller = if args.metrics.is_some() { Caller::Metrics } else { Caller::Gated(gate(args)) };
    let run = match item.body() {
        // The boxed future starts its span itself, at its first poll.
        Body::BoxedFuture { pin, future } => {
            let body = future_body(start, quote!(#future), &caller);
            return item.with_body(quote!(#pin(#body)));
        }
        // Its work runs after the function returned: the span goes with the future, as for an `async fn`.
        Body::AsyncBlock(future) => {
            let ExprAsync { attrs, capture, block, .. } = future;
            let statements = &block.stmts;
            let output = item.future_output().map(|ty| pin_future_output(&ty));
            let future = quote!(#(#attrs)* async #capture { #output #(#statements)* });
            return item.with_body(future_body(start, future, &caller));
        }
        // Nothing may come between a `#[track_caller]` body and its caller, so no closure: the span
        // still ends on return and panic, but an `Err` is not seen.
        Body::Sync(block) if item.tracks_caller() => sync_body(block, &Output::Unit, &caller),
        Body::Sync(block) => sync_body(block, &item.output(), &caller),
        Body::Async(block) => async_body(block, &item.output(), &caller),
    };
    item.with_body(quote!(#start #run))
}

fn local(name: &str) -> Ident {
    Ident::new(name, Span::mixed_site())
}

/// A level the `max_level_*` features compile out selects `Gate<false>`, whose handle is an empty type
/// with nothing to drop, and which is no metrics caller: only the body remains.
fn gate(args: &TracedArgs) -> TokenStream {
    let level = Ident::new(args.level.unwrap_or_default().variant(), Span::call_site());
    quote! {
        <::traced::__private::Gate<{ ::traced::__private::Level::#level.compiled_in() }> as ::traced::__private::Gated>
    }
}

/// How the function becomes the caller of the `#[traced(metrics)]` functions it calls.
enum Caller {
    /// Always, with its metrics site.
    Metrics,
    /// Once a metrics function ran in the process, through its level's gate.
    Gated(TokenStream),
}

impl Caller {
    /// Held by a sync body while it runs.
    fn enter(&self) -> TokenStream {
        match self {
            Caller::Metrics => quote!(__TRACED_METRICS.enter()),
            Caller::Gated(gate) => quote!(#gate::enter_caller(&__TRACED_SITE)),
        }
    }

    /// The future of an async body, with its function as the caller while it is polled.
    fn scope(&self, future: TokenStream) -> TokenStream {
        match self {
            Caller::Metrics => quote!(__TRACED_METRICS.scope(#future)),
            Caller::Gated(gate) => quote!(#gate::in_caller(&__TRACED_SITE, #future)),
        }
    }

    fn metrics(&self) -> bool {
        matches!(self, Caller::Metrics)
    }
}

/// The call site's `static` and the span start; attribute values are evaluated here, once.
fn start_span(args: &TracedArgs, item: &FnItem) -> TokenStream {
    let name = args.name.as_ref().map_or_else(|| item.name(), |name| name.value());
    let kind = Ident::new(args.kind.unwrap_or_default().variant(), Span::call_site());
    let span = local("__traced_span");
    let attrs = local("__traced_attrs");
    // Spanned at the user's expression: an unsupported value type is reported there.
    let pushes = args.attributes.iter().map(|attribute| {
        let key = attribute.key.text();
        let value = &attribute.value;
        quote_spanned!(value.span()=> #attrs.push(#key, &(#value));)
    });
    let level = Ident::new(args.level.unwrap_or_default().variant(), Span::call_site());
    // `code.function.name` is `module::path::function` (`module::path::Type::method` in an impl block);
    // file and line are those of the function's name.
    let function = match &args.impl_type {
        Some(type_name) => format!("::{}::{}", type_name.value(), item.name()),
        None => format!("::{}", item.name()),
    };
    let location = item.ident().span();
    let file = quote_spanned!(location=> ::core::file!());
    let line = quote_spanned!(location=> ::core::line!());
    let site = quote! {
        static __TRACED_SITE: ::traced::__private::Site =
            ::traced::__private::Site::new(#name, ::traced::__private::SpanKind::#kind)
                .at_level(::traced::__private::Level::#level)
                .with_code(::core::module_path!(), ::core::concat!(::core::module_path!(), #function), #file, #line);
    };
    let gate = gate(args);
    // Started after the span, so the duration is the body's; recorded when it drops, before the span ends.
    // Its `function` and `module` labels are those of the site's code location.
    let call = local("__traced_call");
    let metrics = args.metrics.as_ref().map(|_| {
        quote! {
            static __TRACED_METRICS: ::traced::__private::FunctionMetrics =
                ::traced::__private::FunctionMetrics::new(&__TRACED_SITE);
            #[allow(unused_mut)]
            let mut #call = __TRACED_METRICS.start();
        }
    });
    if args.parent.is_none() && args.root.is_none() && args.links.is_empty() {
        return quote! {
            #site
            let #span = #gate::start(|| ::traced::__private::start_span(&__TRACED_SITE, |#attrs| { #(#pushes)* }));
            #metrics
        };
    }
    // Spanned at the user's expression: a value of a type that is no parent or link is reported there.
    let parent = match (&args.parent, &args.root) {
        (Some(parent), _) => quote_spanned!(parent.span()=> ::traced::__private::SpanParent::parent(&(#parent))),
        (None, Some(_)) => quote!(::traced::__private::Parent::Root),
        (None, None) => quote!(::traced::__private::Parent::Current),
    };
    let links = local("__traced_links");
    let link_pushes = args.links.iter().map(|link| quote_spanned!(link.span()=> #links.push(&(#link));));
    quote! {
        #site
        let #span = #gate::start(|| {
            ::traced::__private::start_span_with(
                &__TRACED_SITE,
                || #parent,
                |#attrs| { #(#pushes)* },
                |#links| { #(#link_pushes)* },
            )
        });
        #metrics
    }
}

/// A sync body runs in a closure so that its `return` and `?` produce a value the span sees.
fn sync_body(block: &Block, output: &Output, caller: &Caller) -> TokenStream {
    let span = local("__traced_span");
    let guard = local("__traced_guard");
    let ret = local("__traced_ret");
    let in_caller = local("__traced_caller");
    let enter_caller = caller.enter();
    let enter = quote!(let #guard = ::traced::__private::span_enter(&#span); let #in_caller = #enter_caller;);
    let metrics = caller.metrics();
    match output {
        // Nothing to observe: the body runs in place, and `return` still ends the span on the way out.
        // Its statements, not the block: a nested `{ helper() }` would trip `unused_braces`.
        Output::Unit | Output::Never => {
            let statements = &block.stmts;
            quote!(#enter #(#statements)*)
        }
        Output::Opaque => quote! {
            #enter
            let #ret = ::traced::__private::call_once(move || #block);
            ::core::mem::drop(#guard);
            #ret
        },
        Output::Value(ty) => {
            let observe = observe(metrics);
            // Naming the return type checks the body against it, so a wrong value is reported there.
            quote! {
                #enter
                let #ret = ::traced::__private::call_once::<#ty, _>(move || #block);
                #observe
                ::core::mem::drop(#guard);
                #ret
            }
        }
    }
}

/// An async body runs as a future made current at every poll.
fn async_body(block: &Block, output: &Output, caller: &Caller) -> TokenStream {
    let span = local("__traced_span");
    let ret = local("__traced_ret");
    let metrics = caller.metrics();
    match output {
        Output::Unit | Output::Opaque => {
            let future = caller.scope(quote!(async move #block));
            quote!(::traced::__private::span_instrument(&#span, #future).await)
        }
        Output::Never => {
            // An async block whose body diverges would infer `()` as its output; `Infallible` is the
            // stable spelling of `!` that keeps the `-> !` signature satisfied.
            let never = local("__traced_never");
            let future = caller.scope(quote!(async move {
                let #never: ::core::convert::Infallible = #block;
                #never
            }));
            quote! {
                #[allow(unreachable_code)]
                let #never: ::core::convert::Infallible = ::traced::__private::span_instrument(&#span, #future).await;
                match #never {}
            }
        }
        Output::Value(ty) => {
            let pin_type = pin_future_output(ty);
            let observe = observe(metrics);
            // The body's statements go straight into the async block: nesting the block itself would
            // make `{ Ok(1) }` a braced tail expression, and rustc's `unused_braces` lint would blame
            // the user's braces.
            let statements = &block.stmts;
            let future = caller.scope(quote!(async move { #pin_type #(#statements)* }));
            quote! {
                let #ret = ::traced::__private::span_instrument(&#span, #future).await;
                #observe
                #ret
            }
        }
    }
}

/// A body that is a future (`#[async_trait]`'s `Box::pin(async move { .. })`, an `async` block returned
/// as `impl Future`): as for an `async fn`, the span starts at the first poll (where `self` still has
/// its name: async-trait renames it inside its own block only), and `future` runs inside it.
fn future_body(start: TokenStream, future: TokenStream, caller: &Caller) -> TokenStream {
    let span = local("__traced_span");
    let ret = local("__traced_ret");
    let observe = observe(caller.metrics());
    let future = caller.scope(future);
    quote! {
        async move {
            #start
            let #ret = ::traced::__private::span_instrument(&#span, #future).await;
            #observe
            #ret
        }
    }
}

/// Tells the async block its output type, so `?` and `return` inside it infer as in the function
/// (the trick of `tracing-attributes`).
fn pin_future_output(ty: &Type) -> TokenStream {
    let fake = local("__traced_fake");
    quote_spanned! {ty.span()=>
        #[allow(
            unreachable_code,
            clippy::diverging_sub_expression,
            clippy::empty_loop,
            clippy::let_unit_value,
            clippy::needless_return
        )]
        if false {
            let #fake: #ty = loop {};
            return #fake;
        }
    }
}

/// Marks the span failed when the returned value is an `Err`, and notes `ok`/`error` for the metrics;
/// does nothing for other types.
fn observe(metrics: bool) -> TokenStream {
    let span = local("__traced_span");
    let ret = local("__traced_ret");
    let call = local("__traced_call");
    let outcome = metrics.then(|| quote!(#call.outcome((&&#ret).__traced_outcome());));
    quote! {
        {
            #[allow(unused_imports)]
            use ::traced::__private::{ObserveOther as _, ObserveResult as _};
            (&&#ret).__traced_observe(::traced::__private::span_of(&#span));
            #outcome
        }
    }
}
