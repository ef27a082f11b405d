//! The function an attribute macro is applied to: parsed once, inspected, re-emitted with a new body.
//!
//! Shared by the macros that wrap a function body: the signature, attributes and visibility are kept
//! exactly as written, only the body is replaced.

use proc_macro2::TokenStream;
use quote::{quote, ToTokens};
use syn::ext::IdentExt;
use syn::visit_mut::{self, VisitMut};
use syn::{
    AttrStyle, Block, Expr, ExprAsync, ExprCall, FnArg, GenericArgument, Ident, Item, ItemFn, PatIdent, PathArguments,
    ReturnType, Stmt, TraitItemFn, Type, TypeInfer, TypeParamBound,
};

/// A function with a body, accepted by a macro.
pub(crate) struct FnItem {
    item: ItemFn,
}

/// The body of the function, by the way it runs.
pub(crate) enum Body<'a> {
    /// A plain function body.
    Sync(&'a Block),
    /// The body of an `async fn`.
    Async(&'a Block),
    /// `Box::pin(async move { .. })`, the body `#[async_trait]` generates: `pin` is the call, `future`
    /// the async block inside it.
    BoxedFuture { pin: &'a Expr, future: &'a ExprAsync },
    /// An `async` block as the whole body of a function returning `impl Future`: a future too, whose
    /// work runs after the function returned.
    AsyncBlock(&'a ExprAsync),
}

/// What the function returns, as generated code may spell it.
pub(crate) enum Output {
    /// No `->`, or `-> ()`.
    Unit,
    /// `-> !`.
    Never,
    /// `-> impl Trait`: a type the body cannot name.
    Opaque,
    /// Any other type; an `impl Trait` inside it (`Result<impl Display, E>`) is replaced by `_`.
    Value(Box<Type>),
}

impl FnItem {
    /// Accepts a function with a body; rejects anything else for `#[macro_name]`, pointing at what it
    /// is.
    pub(crate) fn parse(macro_name: &str, tokens: TokenStream) -> syn::Result<Self> {
        Self::from_item(macro_name, syn::parse2::<Item>(tokens)?)
    }

    /// As [`parse`](Self::parse), for an item already parsed.
    pub(crate) fn from_item(macro_name: &str, item: Item) -> syn::Result<Self> {
        match item {
            Item::Fn(item) => match item.sig.constness {
                Some(constness) => Err(syn::Error::new(
                    constness.span,
                    format!(
                        "`#[{macro_name}]` cannot be used on a `const fn`; a span is started at run time, so remove `const`"
                    ),
                )),
                None => Ok(Self { item }),
            },
            Item::Verbatim(tokens) => Err(match syn::parse2::<TraitItemFn>(tokens.clone()) {
                Ok(TraitItemFn { semi_token: Some(semi), .. }) => syn::Error::new(
                    semi.span,
                    format!("`#[{macro_name}]` needs a function body; put it on the implementation"),
                ),
                _ => not_a_function(macro_name, tokens),
            }),
            other => Err(not_a_function(macro_name, item_keyword(&other))),
        }
    }

    /// The function as parsed, for a macro that rebuilds it whole.
    pub(crate) fn item_fn(&self) -> &ItemFn {
        &self.item
    }

    /// The function as parsed, owned.
    pub(crate) fn into_item_fn(self) -> ItemFn {
        self.item
    }

    /// The function's name, without `r#`.
    pub(crate) fn name(&self) -> String {
        self.item.sig.ident.unraw().to_string()
    }

    /// The function's name as written, for generated code to point at.
    pub(crate) fn ident(&self) -> &Ident {
        &self.item.sig.ident
    }

    /// Every name the parameters bind, `self` included, in order.
    pub(crate) fn parameter_names(&self) -> Vec<Ident> {
        let mut names = BoundNames(Vec::new());
        for input in &self.item.sig.inputs {
            match input {
                FnArg::Receiver(receiver) => names.0.push(Ident::new("self", receiver.self_token.span)),
                FnArg::Typed(typed) => names.visit_pat_mut(&mut typed.pat.as_ref().clone()),
            }
        }
        names.0
    }

    pub(crate) fn body(&self) -> Body<'_> {
        let block = &self.item.block;
        if self.item.sig.asyncness.is_some() {
            return Body::Async(block);
        }
        if let Some((pin, future)) = boxed_future(block) {
            return Body::BoxedFuture { pin, future };
        }
        match (self.output(), lone_async_block(block)) {
            (Output::Opaque, Some(future)) => Body::AsyncBlock(future),
            _ => Body::Sync(block),
        }
    }

    /// `T` of `-> impl Future<Output = T>` (an `impl Trait` inside it replaced by `_`), so an `async`
    /// block moved away from the return position still knows what its `?` and `return` produce.
    pub(crate) fn future_output(&self) -> Option<Type> {
        let ReturnType::Type(_, ty) = &self.item.sig.output else { return None };
        let Type::ImplTrait(opaque) = &**ty else { return None };
        let mut output = opaque.bounds.iter().find_map(|bound| {
            let TypeParamBound::Trait(bound) = bound else { return None };
            let future = bound.path.segments.last().filter(|segment| segment.ident == "Future")?;
            let PathArguments::AngleBracketed(arguments) = &future.arguments else { return None };
            arguments.args.iter().find_map(|argument| match argument {
                GenericArgument::AssocType(assoc) if assoc.ident == "Output" => Some(assoc.ty.clone()),
                _ => None,
            })
        })?;
        EraseImplTrait.visit_type_mut(&mut output);
        Some(output)
    }

    pub(crate) fn output(&self) -> Output {
        match &self.item.sig.output {
            ReturnType::Default => Output::Unit,
            ReturnType::Type(_, ty) => match &**ty {
                Type::Tuple(unit) if unit.elems.is_empty() => Output::Unit,
                Type::Never(_) => Output::Never,
                Type::ImplTrait(_) => Output::Opaque,
                _ => {
                    let mut ty = ty.clone();
                    EraseImplTrait.visit_type_mut(&mut ty);
                    Output::Value(ty)
                }
            },
        }
    }

    /// Whether the function is `#[track_caller]`: its body must then run in the function itself, since
    /// a closure would report its own location to `Location::caller()` and panics.
    pub(crate) fn tracks_caller(&self) -> bool {
        self.item.attrs.iter().any(|attr| attr.path().is_ident("track_caller"))
    }

    /// The function as written, with `body` (the statements inside the braces) as its body.
    pub(crate) fn with_body(&self, body: TokenStream) -> TokenStream {
        let ItemFn { attrs, vis, sig, .. } = &self.item;
        let outer = attrs.iter().filter(|attr| matches!(attr.style, AttrStyle::Outer));
        let inner = attrs.iter().filter(|attr| matches!(attr.style, AttrStyle::Inner(_)));
        quote! {
            #(#outer)*
            #vis #sig {
                #(#inner)*
                #body
            }
        }
    }
}

/// `Box::pin(async move { .. })` as the whole body, the shape `#[async_trait]` leaves behind.
fn boxed_future(block: &Block) -> Option<(&Expr, &ExprAsync)> {
    let [Stmt::Expr(Expr::Call(ExprCall { func, args, .. }), None)] = block.stmts.as_slice() else {
        return None;
    };
    let Expr::Path(path) = &**func else { return None };
    let segments: Vec<String> = path.path.segments.iter().map(|segment| segment.ident.to_string()).collect();
    if !segments.ends_with(&["Box".to_owned(), "pin".to_owned()]) || args.len() != 1 {
        return None;
    }
    match args.first() {
        Some(Expr::Async(future)) => Some((func, future)),
        _ => None,
    }
}

/// An `async` block as the whole body.
fn lone_async_block(block: &Block) -> Option<&ExprAsync> {
    match block.stmts.as_slice() {
        [Stmt::Expr(Expr::Async(future), None)] => Some(future),
        _ => None,
    }
}

/// Collects the names a pattern binds (`(a, b)`, `Point { x, .. }`, `mut n`).
struct BoundNames(Vec<Ident>);

impl VisitMut for BoundNames {
    fn visit_pat_ident_mut(&mut self, binding: &mut PatIdent) {
        self.0.push(binding.ident.clone());
        visit_mut::visit_pat_ident_mut(self, binding);
    }
}

/// Replaces every `impl Trait` with `_`, so the type can annotate a local inside the body.
struct EraseImplTrait;

impl VisitMut for EraseImplTrait {
    fn visit_type_mut(&mut self, ty: &mut Type) {
        if let Type::ImplTrait(impl_trait) = ty {
            let underscore = syn::Token![_](impl_trait.impl_token.span);
            *ty = Type::Infer(TypeInfer { underscore_token: underscore });
            return;
        }
        visit_mut::visit_type_mut(self, ty);
    }
}

fn not_a_function(macro_name: &str, culprit: impl ToTokens) -> syn::Error {
    let what = if macro_name == "traced" { "functions and impl blocks" } else { "functions" };
    syn::Error::new_spanned(culprit, format!("`#[{macro_name}]` can only be used on {what}"))
}

/// The tokens naming what an item is (`struct Item`), for an error to point at.
fn item_keyword(item: &Item) -> TokenStream {
    match item {
        Item::Struct(item) => pair(&item.struct_token, &item.ident),
        Item::Enum(item) => pair(&item.enum_token, &item.ident),
        Item::Union(item) => pair(&item.union_token, &item.ident),
        Item::Trait(item) => pair(&item.trait_token, &item.ident),
        Item::Type(item) => pair(&item.type_token, &item.ident),
        Item::Const(item) => pair(&item.const_token, &item.ident),
        Item::Static(item) => pair(&item.static_token, &item.ident),
        Item::Mod(item) => pair(&item.mod_token, &item.ident),
        Item::Impl(item) => pair(&item.impl_token, &item.self_ty),
        other => other.to_token_stream(),
    }
}

fn pair(keyword: &impl ToTokens, name: &impl ToTokens) -> TokenStream {
    quote!(#keyword #name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(tokens: TokenStream) -> syn::Result<FnItem> {
        FnItem::parse("traced", tokens)
    }

    fn error(tokens: TokenStream) -> String {
        parse(tokens).err().map(|error| error.to_string()).unwrap_or_default()
    }

    #[test]
    fn rejects_what_is_not_a_function_with_a_body() {
        assert_eq!(
            error(quote!(
                struct Item;
            )),
            "`#[traced]` can only be used on functions and impl blocks"
        );
        assert_eq!(
            FnItem::parse("record_errors", quote!(impl Item {})).err().map(|error| error.to_string()).as_deref(),
            Some("`#[record_errors]` can only be used on functions")
        );
        assert!(error(quote!(
            const fn f() {}
        ))
        .starts_with("`#[traced]` cannot be used on a `const fn`"));
        assert!(error(quote!(
            fn f(&self);
        ))
        .starts_with("`#[traced]` needs a function body"));
    }

    #[test]
    fn recognises_how_the_body_runs() {
        let shape = |tokens| match parse(tokens).expect("a function").body() {
            Body::Sync(_) => "sync",
            Body::Async(_) => "async",
            Body::BoxedFuture { .. } => "boxed future",
            Body::AsyncBlock(_) => "async block",
        };
        assert_eq!(
            shape(quote!(
                fn f() {}
            )),
            "sync"
        );
        assert_eq!(
            shape(quote!(
                async fn f() {}
            )),
            "async"
        );
        assert_eq!(
            shape(quote!(
                fn f() -> Pin<Box<dyn Future<Output = ()>>> {
                    Box::pin(async move {})
                }
            )),
            "boxed future"
        );
        assert_eq!(
            shape(quote!(
                fn f(n: u8) -> impl Future<Output = u8> {
                    async move { n }
                }
            )),
            "async block"
        );
        assert_eq!(
            shape(quote!(
                fn f() -> Box<u8> {
                    Box::new(1)
                }
            )),
            "sync"
        );
    }

    #[test]
    fn lists_the_names_parameters_bind() {
        let item = parse(quote!(
            fn f(&mut self, id: u64, (a, mut b): (u8, u8), Point { x, .. }: Point, _: u8) {}
        ))
        .expect("a function");
        let names: Vec<String> = item.parameter_names().iter().map(Ident::to_string).collect();
        assert_eq!(names, ["self", "id", "a", "b", "x"]);
    }

    #[test]
    fn sees_track_caller() {
        assert!(parse(quote!(
            #[track_caller]
            fn f() {}
        ))
        .expect("a function")
        .tracks_caller());
        assert!(!parse(quote!(
            #[inline]
            fn f() {}
        ))
        .expect("a function")
        .tracks_caller());
    }

    #[test]
    fn impl_trait_is_erased_from_return_types() {
        let output = |tokens| match parse(tokens).expect("a function").output() {
            Output::Unit => "unit".to_owned(),
            Output::Never => "never".to_owned(),
            Output::Opaque => "opaque".to_owned(),
            Output::Value(ty) => ty.to_token_stream().to_string(),
        };
        assert_eq!(
            output(quote!(
                fn f() {}
            )),
            "unit"
        );
        assert_eq!(
            output(quote!(
                fn f() -> () {}
            )),
            "unit"
        );
        assert_eq!(
            output(quote!(
                fn f() -> ! {
                    loop {}
                }
            )),
            "never"
        );
        assert_eq!(
            output(quote!(
                fn f() -> impl Display {
                    1
                }
            )),
            "opaque"
        );
        assert_eq!(
            output(quote!(
                fn f() -> Result<impl Display, E> {
                    Ok(1)
                }
            )),
            "Result < _ , E >"
        );
    }

    #[test]
    fn re_emits_attributes_visibility_and_signature() {
        let item = parse(quote!(
            #[inline]
            pub(crate) unsafe fn f<T: Copy>(t: T) -> T
            where
                T: Send,
            {
                #![allow(unused)]
                t
            }
        ))
        .expect("a function");
        assert_eq!(
            item.with_body(quote!(body())).to_string(),
            quote!(
                #[inline]
                pub(crate) unsafe fn f<T: Copy>(t: T) -> T
                where
                    T: Send,
                {
                    #![allow(unused)]
                    body()
                }
            )
            .to_string()
        );
    }
}
