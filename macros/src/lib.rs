//! Procedural macros of `traced`. Depend on `traced`, which re-exports them with compiled examples.
//!
//! Each macro parses its arguments (`args`, `record_errors_args`, `dependency_args`, all through the one
//! option loop of `options`), checks them (`check`, `record_errors`, `traced_dependency`), parses the
//! function once (`item`) and generates code (`expand_*`); the entry points below call the check, then
//! the expansion, so no module calls back into another. `#[traced]` on an impl block (`impl_block`)
//! hands each method on to `#[traced]` with the merged options. Errors become `compile_error!` here,
//! next to the unchanged item, so a mistake in the attribute never hides the function from the rest
//! of the crate.

mod args;
mod check;
mod dependency_args;
mod errors;
mod expand_record_errors;
mod expand_traced;
mod expand_traced_dependency;
mod impl_block;
mod item;
mod options;
mod record_errors;
mod record_errors_args;
mod semconv_deprecated;
#[cfg(test)]
mod semconv_regen;
mod traced_dependency;

use proc_macro::TokenStream;

use crate::errors::Errors;
use crate::item::FnItem;

/// Runs a function inside an OpenTelemetry span.
///
/// Every call starts a span, current while the function runs: spans started inside it (other
/// `#[traced]` functions, [`traced::record`] calls) attach to it, across `.await` points too. The span
/// ends when the function returns or panics (a panic sets status ERROR). When the function returns a
/// `Result` (through any alias), an `Err` sets status ERROR and `error.type` to the error's type name.
///
/// Works on free functions, `async fn`, methods (`self`, `&self`, `&mut self`), associated functions,
/// trait implementations (native `async fn` and `#[async_trait]` alike), generics, lifetimes,
/// `impl Trait` arguments and return types, and `unsafe fn`; `?` and `return` keep working. A function
/// returning `impl Future` whose body is an `async` block is traced as an `async fn` is: the span starts
/// at the first poll and ends when the future completes (a body of any other shape is spanned over the
/// call that builds the future, not over the future's work). A
/// `#[track_caller]` function keeps reporting its caller's location; its body then runs unwrapped, so
/// its `Err` is not seen (the span still ends, and a panic still marks it ERROR).
///
/// On an `impl` block (inherent or trait, generic or not, `#[async_trait]` above or below it), every
/// method with a body is traced, its span named `Type::method`: the impl's options apply to every
/// method, a method's own `#[traced(..)]` replaces them option by option, `#[traced(skip)]` leaves a
/// method untouched (`skip` anywhere else is an error) and `const fn` methods are left as written.
///
/// Every span carries `code.function.name` (`module::path::function`), `code.file.path` and
/// `code.line.number`, added once the sampler kept it (`TRACED_CODE_ATTRIBUTES=false` turns them off).
///
/// # Options
///
/// All are optional, each may be given once:
///
/// - `name = "load-item"`: the span name. Default: the function's name.
/// - `kind = internal | server | client | producer | consumer`: the span kind. Default: `internal`.
/// - `attributes(key = value, ...)`: attributes known when the span starts, so samplers see them.
///   Keys are dotted names (`item.id`, `exception.type`) or strings (`"http.route"`), made of
///   lowercase segments of `a-z`, `0-9` and `_`; a key the semantic conventions deprecate is an error
///   naming its replacement. Values are expressions over the parameters, evaluated once when the span
///   starts: `bool`, integers, `f32`/`f64`, `String`, `&str`, `Cow<str>`, `Option`s of those (`None`
///   records nothing) and `Vec`s or arrays of the scalars. A bare parameter name (`attributes(item_id)`)
///   records the parameter under its own name. The span starts, and the values are evaluated, when
///   the function is called, or at the first poll of an `async fn` (`#[async_trait]` methods alike);
///   when telemetry is disabled they are not evaluated at all. Keys of the `otel.` namespace are
///   reserved by OpenTelemetry and refused.
/// - `parent = expr`: the span's parent instead of the current context: `&opentelemetry::Context`,
///   `Context`, `opentelemetry::trace::SpanContext`, `&SpanContext`, or an `Option` of those (`None`:
///   the current context). Spans started inside the function follow this one.
/// - `root`: a new trace, whatever is current (the rest of the context, such as baggage, is kept).
///   Not with `parent`.
/// - `links(expr, ...)`: span links, each a `SpanContext`, `&SpanContext`, `Option<SpanContext>` or
///   `Option<&SpanContext>`; invalid ones and `None` are skipped. Known at span start, so samplers
///   see them.
/// - `level = error | warn | info | debug | trace`: default `info`. The span is created only at or
///   below the run-time threshold (`TRACED_SPAN_LEVEL`, default `info`); the cargo features
///   `max_level_*` / `release_max_level_*` of `traced` compile the spans above them out.
/// - `metrics`: also count the calls (`function.calls` {`function`, `module`, `result`,
///   `caller.function`, `caller.module`}) and time them (`function.calls.duration`, seconds), with
///   autometrics' names and labels; recorded for every call, sampled or not. The caller is the
///   enclosing `#[traced]` function, with or without `metrics`.
///
/// `parent`, `root` and `links` are evaluated with the attributes, before the sampler decides.
///
/// # Example
///
/// ```ignore
/// use traced::traced;
///
/// #[traced(name = "load-item", kind = internal, attributes(item.id = item_id, "query.present" = q.is_some()))]
/// async fn load_item(item_id: u64, q: Option<String>) -> Result<Item, StoreError> {
///     let item = store().get(item_id).await?;
///     traced::record("demo.io_delay_seconds", 0.2);
///     Ok(item)
/// }
/// ```
///
/// # What this expands to, written by hand
///
/// For a sync function (an `async fn` runs its body as a future made current at every poll instead of
/// a closure; `#[async_trait]` methods get their `Box::pin(async move { .. })` future instrumented):
///
/// ```ignore
/// fn load_item(item_id: u64) -> Result<Item, StoreError> {
///     static SITE: traced::__private::Site =
///         traced::__private::Site::new("load-item", traced::__private::SpanKind::Internal)
///             .at_level(traced::__private::Level::Info)
///             .with_code(module_path!(), concat!(module_path!(), "::load_item"), file!(), line!());
///     // Attributes are evaluated once, before the sampler decides. A level compiled out by a
///     // `max_level_*` feature selects `Gate<false>`, which never starts a span.
///     let span = <Gate<{ Level::Info.compiled_in() }> as Gated>::start(|| {
///         traced::__private::start_span(&SITE, |attrs| attrs.push("item.id", &(item_id)))
///     });
///     let guard = traced::__private::span_enter(&span);
///     // Once the process has called a `#[traced(metrics)]` function: this function is the
///     // `caller.function` of the metrics functions it calls, until `caller` drops.
///     let caller = <Gate<{ Level::Info.compiled_in() }> as Gated>::enter_caller(&SITE);
///     // The original body, whose `return` and `?` end up in `ret`.
///     let ret: Result<Item, StoreError> = traced::__private::call_once(move || { /* body */ });
///     if let Err(_) = &ret {
///         span.fail(std::any::type_name::<StoreError>()); // status ERROR, `error.type`
///     }
///     drop(guard);
///     ret
/// } // `caller` drops here and restores the previous caller, then `span` ends the span
/// ```
///
/// # Compile-time checks
///
/// An unknown or repeated option, a malformed or deprecated key, a value of a type that cannot be an
/// attribute, a `const fn` or a non-function item are compile errors pointing at the culprit; the
/// function is still emitted unchanged, so nothing else breaks.
///
/// [`traced::record`]: https://docs.rs/traced/latest/traced/fn.record.html
#[proc_macro_attribute]
pub fn traced(args: TokenStream, item: TokenStream) -> TokenStream {
    let item = proc_macro2::TokenStream::from(item);
    // A `#[record_errors]` below this one must expand first; see `record_errors::defer_traced`.
    if let Some(reordered) = record_errors::defer_traced(&args.clone().into(), &item) {
        return reordered.into();
    }
    emit(traced_impl(args.into(), item.clone()), item)
}

fn traced_impl(
    args: proc_macro2::TokenStream,
    item: proc_macro2::TokenStream,
) -> syn::Result<proc_macro2::TokenStream> {
    let mut errors = Errors::default();
    let args = args::parse_traced_args(args, &mut errors);
    errors.take(check::traced_args(&args));
    if let Some(skip) = &args.skip {
        let message = "`skip` is for a method inside a `#[traced]` impl block, which it leaves untouched; \
                       here, remove `#[traced]` instead";
        errors.push(syn::Error::new(skip.span(), message));
    }
    let item = errors.take(syn::parse2::<syn::Item>(item));
    if let Some(syn::Item::Impl(block)) = item {
        return errors.finish(()).map(|()| impl_block::expand(&args, block));
    }
    let item = item.and_then(|item| errors.take(FnItem::from_item("traced", item)));
    if let Some(item) = &item {
        errors.take(check::bare_names_are_parameters(&args, &item.name(), &item.parameter_names()));
    }
    match item {
        Some(item) => errors.finish(()).map(|()| expand_traced::expand(&args, &item)),
        None => errors.finish(proc_macro2::TokenStream::new()),
    }
}

/// Records the `Err` of a function on the current span (an `exception` event, status ERROR) and,
/// with `response`, turns it into the JSON error response of an axum handler. Documented with
/// examples on its re-export, `traced::record_errors`.
#[proc_macro_attribute]
pub fn record_errors(args: TokenStream, item: TokenStream) -> TokenStream {
    let item = proc_macro2::TokenStream::from(item);
    emit(record_errors::record_errors(args.into(), item.clone()), item)
}

/// Makes an `async fn` whose parameters are axum extractors into an extractor whose span stays open
/// while the handler holds its value. Documented with examples on its re-export,
/// `traced::traced_dependency`.
#[proc_macro_attribute]
pub fn traced_dependency(args: TokenStream, item: TokenStream) -> TokenStream {
    let item = proc_macro2::TokenStream::from(item);
    let expansion = traced_dependency::check_fn(args.into(), item.clone())
        .map(|dependency| expand_traced_dependency::expand_fn(&dependency));
    emit(expansion, item)
}

/// A dependency made of a struct whose fields are extractors, used as `traced::Depends<TheStruct>`.
/// Documented with examples on its re-export, `traced::TracedDependency`.
#[proc_macro_derive(TracedDependency, attributes(dependency))]
pub fn derive_traced_dependency(item: TokenStream) -> TokenStream {
    traced_dependency::check_struct(item.into())
        .map(|dependency| expand_traced_dependency::expand_struct(&dependency))
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// The expansion, or the errors followed by the item exactly as written.
fn emit(expansion: syn::Result<proc_macro2::TokenStream>, item: proc_macro2::TokenStream) -> TokenStream {
    match expansion {
        Ok(expansion) => expansion.into(),
        Err(error) => {
            let mut output = error.to_compile_error();
            output.extend(item);
            output.into()
        }
    }
}
