//! The code `#[traced_dependency]` and `#[derive(TracedDependency)]` generate: an implementation of
//! `traced::Dependency` (value type, span name) and of `ResolveDependency<S>` (extract the inputs,
//! produce the value) for every state the inputs can be extracted with, plus a check that names a
//! parameter that is not an extractor. The function itself is left as written. Nothing here fails.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::{Ident, Type};

use crate::traced_dependency::{marker, Common, DependencyFn, DependencyStruct, Returns};

/// The function, its extractor alias `type Db = traced::Depends<..>` and the marker type behind it.
pub(crate) fn expand_fn(dependency: &DependencyFn) -> TokenStream {
    let DependencyFn { function, parameters, returns, extractor, common } = dependency;
    let vis = &common.vis;
    let marker = marker(extractor);
    let fn_name = &function.sig.ident;
    let doc = format!(
        "The extractor of the dependency [`{fn_name}`]: derefs to its value, and keeps the `{}` span open while the handler holds it.",
        common.span_name
    );
    let value = match returns {
        Returns::Value(ty) => quote!(#ty),
        Returns::Result(ty) => quote!(<#ty as ::traced::__private::dependency::ReturnsResult>::Value),
    };
    let arguments: Vec<Ident> =
        (0..parameters.len()).map(|index| local(&format!("__traced_argument_{index}"))).collect();
    let types: Vec<&Type> = parameters.iter().map(|(_, ty)| ty).collect();
    let extract = arguments.iter().zip(&types).map(|(argument, ty)| {
        quote!(let #argument = ::traced::__private::dependency::extract::<#ty, __TracedState>(__traced_parts, __traced_state).await?;)
    });
    let record = record_attributes(dependency);
    let call = quote!(#fn_name(#(#arguments),*).await);
    let settle = match returns {
        Returns::Value(_) => quote!(::core::result::Result::Ok(#call)),
        Returns::Result(_) => {
            let error = local("__traced_error");
            quote!(::traced::__private::dependency::settle(#call, |#error| ::traced::__traced_failure!(#error)))
        }
    };
    let dependency_impl = dependency_impl(&quote!(#marker), &value, common);
    let resolve_impl = resolve_impl(&quote!(#marker), &types, &quote!(#(#extract)* #record #settle));
    let checks = parameter_checks(&types, &common.check_state);
    quote! {
        #function

        #[doc(hidden)]
        #[allow(non_camel_case_types)]
        #[derive(::core::fmt::Debug)]
        #vis struct #marker {}

        #[doc = #doc]
        #vis type #extractor = ::traced::Depends<#marker>;

        #dependency_impl
        #resolve_impl
        #checks
    }
}

/// `Dependency` and `ResolveDependency` for the struct itself (used as `Depends<TheStruct>`).
pub(crate) fn expand_struct(dependency: &DependencyStruct) -> TokenStream {
    let DependencyStruct { ident, fields, field_spans, common } = dependency;
    let types: Vec<&Type> = fields.iter().map(|(_, ty)| ty).collect();
    let initialize = fields.iter().map(|(member, ty)| {
        let extract = if *field_spans {
            let member_name = match member {
                syn::Member::Named(name) => name.unraw().to_string(),
                syn::Member::Unnamed(index) => index.index.to_string(),
            };
            let site = site(&format!("{}.{member_name}", common.span_name));
            quote!(::traced::__private::dependency::extract_in_span::<#ty, __TracedState>(#site, __traced_parts, __traced_state))
        } else {
            quote!(::traced::__private::dependency::extract::<#ty, __TracedState>(__traced_parts, __traced_state))
        };
        quote!(#member: #extract.await?,)
    });
    let body = quote!(::core::result::Result::Ok(Self { #(#initialize)* }));
    let dependency_impl = dependency_impl(&quote!(#ident), &quote!(Self), common);
    let resolve_impl = resolve_impl(&quote!(#ident), &types, &body);
    let checks = parameter_checks(&types, &common.check_state);
    quote!(#dependency_impl #resolve_impl #checks)
}

fn local(name: &str) -> Ident {
    Ident::new(name, Span::mixed_site())
}

/// A `&'static Site` for a span named `name`.
fn site(name: &str) -> TokenStream {
    quote!({
        static __TRACED_SITE: ::traced::__private::Site =
            ::traced::__private::Site::new(#name, ::traced::__private::SpanKind::Internal);
        &__TRACED_SITE
    })
}

fn dependency_impl(self_type: &TokenStream, value: &TokenStream, common: &Common) -> TokenStream {
    let site = site(&common.span_name);
    quote! {
        impl ::traced::__private::dependency::Dependency for #self_type {
            type Value = #value;

            fn site() -> &'static ::traced::__private::Site #site
        }
    }
}

/// `ResolveDependency<S>` for every `S` all `types` can be extracted with.
fn resolve_impl(self_type: &TokenStream, types: &[&Type], body: &TokenStream) -> TokenStream {
    quote! {
        impl<__TracedState> ::traced::__private::dependency::ResolveDependency<__TracedState> for #self_type
        where
            __TracedState: ::core::marker::Send + ::core::marker::Sync,
            #(#types: ::traced::__private::dependency::FromRequestParts<__TracedState>,)*
        {
            async fn resolve(
                __traced_parts: &mut ::traced::__private::dependency::Parts,
                __traced_state: &__TracedState,
            ) -> ::core::result::Result<Self::Value, ::traced::__private::dependency::Response> {
                #body
            }
        }
    }
}

/// The `attributes(...)`, evaluated once the parameters are extracted, over the parameters as the
/// function's patterns bind them (by reference).
fn record_attributes(dependency: &DependencyFn) -> TokenStream {
    if dependency.common.attributes.is_empty() {
        return TokenStream::new();
    }
    let bind = dependency.parameters.iter().enumerate().map(|(index, (pattern, _))| {
        let argument = local(&format!("__traced_argument_{index}"));
        quote!(let #pattern = &#argument;)
    });
    let record = dependency.common.attributes.iter().map(|attribute| {
        let key = attribute.key.text();
        let value = &attribute.value;
        quote_spanned!(value.span()=> ::traced::__private::dependency::record(#key, &(#value));)
    });
    quote! {
        #[allow(unused_variables, unused_mut, clippy::needless_borrows_for_generic_args)]
        {
            #(#bind)*
            #(#record)*
        }
    }
}

/// For each parameter, at its type: an error unless it is an extractor for `state` or a dependency.
fn parameter_checks(types: &[&Type], state: &TokenStream) -> TokenStream {
    let checks = types.iter().map(|ty| {
        quote_spanned!(ty.span()=> (&&&::traced::__private::dependency::ExtractorCheck::<#ty, #state>::new()).__traced_check();)
    });
    quote! {
        const _: () = {
            #[allow(dead_code)]
            fn __traced_check_parameters() {
                #[allow(unused_imports)]
                use ::traced::__private::dependency::{IsDependency as _, IsExtractor as _};
                #(#checks)*
            }
        };
    }
}
