//! `#[traced]` on an impl block: every method with a body gets `#[traced]`, with the impl's options
//! merged into its own, option by option, and the name `Type::method` unless one is given.
//!
//! Each method is handed on as `#[::traced::traced(merged options)] fn ..` rather than expanded here,
//! so it goes through exactly the path of a method traced on its own (its checks, `#[record_errors]`
//! ordering, the boxed futures of `#[async_trait]` whichever of the two attributes comes first).

use proc_macro2::TokenStream;
use quote::quote;
use syn::ext::IdentExt;
use syn::{Attribute, ImplItem, ImplItemFn, ItemImpl, Meta, Type};

use crate::args::{self, TracedArgs};
use crate::errors::Errors;

/// Options that stand for one choice: a method giving either replaces the impl's `parent` and `root`.
const PARENT_OPTIONS: &[&str] = &["parent", "root"];

/// The impl block with each method carrying its merged `#[traced(..)]`, after the errors found in the
/// methods' own attributes (the block is emitted whatever they are); the impl's own options were
/// checked by the caller.
pub(crate) fn expand(args: &TracedArgs, mut item: ItemImpl) -> TokenStream {
    let mut errors = Errors::default();
    let type_name = type_name(&item.self_ty);
    for impl_item in &mut item.items {
        if let ImplItem::Fn(method) = impl_item {
            errors.take(trace_method(args, type_name.as_deref(), method));
        }
    }
    let errors = errors.finish(()).err().map(|error| error.to_compile_error());
    quote!(#errors #item)
}

/// Rewrites `method`'s attributes: its own `#[traced(..)]` (if any) is replaced by the merged one, or
/// removed with `skip`.
fn trace_method(impl_args: &TracedArgs, type_name: Option<&str>, method: &mut ImplItemFn) -> syn::Result<()> {
    // A `const fn` cannot start a span, and `default fn` (specialization) is left as written.
    if method.sig.constness.is_some() || method.defaultness.is_some() {
        return Ok(());
    }
    let own = method.attrs.iter().position(is_traced);
    let own_args = match own.map(|index| &method.attrs[index].meta) {
        None => TracedArgs::default(),
        Some(Meta::Path(_)) => TracedArgs::default(),
        Some(Meta::List(list)) => {
            let mut errors = Errors::default();
            let parsed = args::parse_traced_args(list.tokens.clone(), &mut errors);
            if errors.finish(()).is_err() {
                // Left as written: expanding on its own, it reports its problems at its tokens.
                return Ok(());
            }
            parsed
        }
        // `#[traced = ..]`: left to report itself.
        Some(Meta::NameValue(_)) => return Ok(()),
    };
    if let Some(skip) = &own_args.skip {
        if let Some(index) = own {
            method.attrs.remove(index);
        }
        if let Some((other, _)) = own_args.written.iter().find(|(name, _)| *name != "skip") {
            let message = format!("`skip` leaves the method untouched: `{other}` would have no effect");
            return Err(syn::Error::new(skip.span(), message));
        }
        return Ok(());
    }
    let merged = merge(impl_args, &own_args, type_name, &method.sig.ident.unraw().to_string());
    let attribute: Attribute = syn::parse_quote!(#[::traced::traced(#(#merged),*)]);
    match own {
        Some(index) => method.attrs[index] = attribute,
        None => method.attrs.insert(0, attribute),
    }
    Ok(())
}

/// The method's options, then the impl's that the method does not give, then the default name.
fn merge(impl_args: &TracedArgs, own: &TracedArgs, type_name: Option<&str>, method: &str) -> Vec<TokenStream> {
    let given = |name: &str| {
        own.written.iter().any(|(written, _)| {
            *written == name || (PARENT_OPTIONS.contains(&name) && PARENT_OPTIONS.contains(written))
        })
    };
    let mut merged: Vec<TokenStream> = own.written.iter().map(|(_, tokens)| tokens.clone()).collect();
    merged.extend(impl_args.written.iter().filter(|(name, _)| !given(name)).map(|(_, tokens)| tokens.clone()));
    if own.name.is_none() && impl_args.name.is_none() {
        let name = match type_name {
            Some(type_name) => format!("{type_name}::{method}"),
            None => method.to_owned(),
        };
        merged.push(quote!(name = #name));
    }
    if let Some(type_name) = type_name {
        merged.push(quote!(__impl = #type_name));
    }
    merged
}

/// `#[traced]`, `#[traced(..)]`, `#[traced::traced(..)]`.
fn is_traced(attribute: &Attribute) -> bool {
    let path = attribute.path();
    let segments: Vec<String> = path.segments.iter().map(|segment| segment.ident.to_string()).collect();
    matches!(segments.iter().map(String::as_str).collect::<Vec<_>>().as_slice(), ["traced"] | ["traced", "traced"])
}

/// The last path segment of the implementing type, without generics or `r#` (`Store` for `&'a Store<T>`).
fn type_name(ty: &Type) -> Option<String> {
    match ty {
        Type::Path(path) => path.path.segments.last().map(|segment| segment.ident.unraw().to_string()),
        Type::Reference(reference) => type_name(&reference.elem),
        Type::Paren(inner) => type_name(&inner.elem),
        Type::Group(inner) => type_name(&inner.elem),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expanded(args: TokenStream, item: TokenStream) -> String {
        let mut errors = Errors::default();
        let args = args::parse_traced_args(args, &mut errors);
        assert!(errors.finish(()).is_ok());
        expand(&args, syn::parse2(item).expect("an impl block")).to_string()
    }

    #[test]
    fn every_method_gets_the_impl_options_and_its_type_name() {
        let output = expanded(
            quote!(kind = client, attributes(db.system = "sqlite")),
            quote!(
                impl<T> Store<T> {
                    fn get(&self) {}
                    #[inline]
                    pub async fn put(&mut self) {}
                    const fn new() -> Self {
                        Store
                    }
                    type Alias = u8;
                }
            ),
        );
        let expected = quote!(
            impl<T> Store<T> {
                #[::traced::traced(kind = client, attributes(db.system = "sqlite"), name = "Store::get", __impl = "Store")]
                fn get(&self) {}
                #[::traced::traced(kind = client, attributes(db.system = "sqlite"), name = "Store::put", __impl = "Store")]
                #[inline]
                pub async fn put(&mut self) {}
                const fn new() -> Self {
                    Store
                }
                type Alias = u8;
            }
        );
        assert_eq!(output, expected.to_string());
    }

    #[test]
    fn a_method_overrides_option_by_option_and_skip_leaves_it_untouched() {
        let output = expanded(
            quote!(kind = client, root, name = "shared"),
            quote!(impl Trait for &'a Store {
                #[traced(parent = &cx, kind = server)]
                fn get(&self, cx: Context) {}
                #[traced(skip)]
                fn put(&self) {}
                #[traced::traced]
                fn delete(&self) {}
            }),
        );
        let expected = quote!(impl Trait for &'a Store {
            #[::traced::traced(parent = &cx, kind = server, name = "shared", __impl = "Store")]
            fn get(&self, cx: Context) {}
            fn put(&self) {}
            #[::traced::traced(kind = client, root, name = "shared", __impl = "Store")]
            fn delete(&self) {}
        });
        assert_eq!(output, expected.to_string());
    }

    #[test]
    fn skip_with_other_options_is_refused() {
        let output = expanded(
            TokenStream::new(),
            quote!(impl Store {
                #[traced(skip, name = "x")]
                fn get(&self) {}
            }),
        );
        let expected = quote!(
            ::core::compile_error! { "`skip` leaves the method untouched: `name` would have no effect" }
            impl Store {
                fn get(&self) {}
            }
        );
        assert_eq!(output, expected.to_string());
    }

    #[test]
    fn type_names_lose_paths_generics_and_references() {
        let name = |ty: TokenStream| type_name(&syn::parse2(ty).expect("a type"));
        assert_eq!(name(quote!(crate::store::Store<T, U>)).as_deref(), Some("Store"));
        assert_eq!(name(quote!(&'a mut Store)).as_deref(), Some("Store"));
        assert_eq!(name(quote!((u8, u16))), None);
    }
}
