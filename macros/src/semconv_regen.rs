//! Keeps `semconv_deprecated.rs` in step with the `opentelemetry-semantic-conventions` crate the
//! workspace builds against: the test re-derives the table from the crate's `#[deprecated]` constants
//! and fails when the checked-in file differs. `TRACED_REGENERATE_SEMCONV=1 cargo test -p
//! traced-macros` rewrites the file instead.

use std::path::{Path, PathBuf};
use std::process::Command;

use syn::punctuated::Punctuated;
use syn::{Expr, ExprLit, Item, Lit, MetaNameValue, Token};

const TABLE_FILE: &str = "src/semconv_deprecated.rs";
const REGENERATE_VAR: &str = "TRACED_REGENERATE_SEMCONV";
const SEMCONV_PACKAGE: &str = "opentelemetry-semantic-conventions";

#[test]
fn deprecated_key_table_matches_the_semantic_conventions_crate() {
    let Some((version, crate_dir)) = semconv_source() else {
        eprintln!("skipped: `cargo metadata --offline` could not locate the {SEMCONV_PACKAGE} sources");
        return;
    };
    let source = std::fs::read_to_string(crate_dir.join("src/attribute.rs")).expect("the crate's src/attribute.rs");
    let expected = render(&version, &deprecated_keys(&source));
    let table = Path::new(env!("CARGO_MANIFEST_DIR")).join(TABLE_FILE);
    if std::env::var_os(REGENERATE_VAR).is_some() {
        std::fs::write(&table, expected).expect("rewrite the table");
        return;
    }
    let actual = std::fs::read_to_string(&table).expect("the checked-in table");
    assert!(
        actual == expected,
        "{TABLE_FILE} is out of date with {SEMCONV_PACKAGE} {version}; \
         rewrite it with `{REGENERATE_VAR}=1 cargo test -p traced-macros`"
    );
}

/// The version and source directory of the conventions crate in this workspace's dependency graph.
fn semconv_source() -> Option<(String, PathBuf)> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--offline"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()?;
    let metadata: serde_json::Value = serde_json::from_slice(&output.stdout).ok()?;
    let packages = metadata["packages"].as_array()?;
    let newest = packages
        .iter()
        .filter(|package| package["name"] == SEMCONV_PACKAGE)
        .max_by_key(|package| version_numbers(package["version"].as_str().unwrap_or_default()))?;
    let manifest = Path::new(newest["manifest_path"].as_str()?);
    Some((newest["version"].as_str()?.to_owned(), manifest.parent()?.to_owned()))
}

fn version_numbers(version: &str) -> Vec<u64> {
    version.split(['.', '-', '+']).map_while(|part| part.parse().ok()).collect()
}

/// `(key, advice)` for every deprecated attribute constant in the crate's `attribute.rs`, sorted.
fn deprecated_keys(source: &str) -> Vec<(String, String)> {
    let file = syn::parse_file(source).expect("attribute.rs parses");
    let mut keys: Vec<(String, String)> = file
        .items
        .iter()
        .filter_map(|item| match item {
            Item::Const(constant) => Some(constant),
            _ => None,
        })
        .filter_map(|constant| {
            let note = constant.attrs.iter().find(|attr| attr.path().is_ident("deprecated")).map(deprecation_note)?;
            let key = string_literal(&constant.expr)?;
            advice(&note).map(|advice| (key, advice))
        })
        .collect();
    keys.sort();
    keys.dedup_by(|a, b| a.0 == b.0);
    keys
}

fn deprecation_note(attr: &syn::Attribute) -> String {
    let fields = attr
        .parse_args_with(Punctuated::<MetaNameValue, Token![,]>::parse_terminated)
        .expect("#[deprecated(note = \"..\")]");
    fields
        .iter()
        .find(|field| field.path.is_ident("note"))
        .and_then(|field| string_literal(&field.value))
        .expect("a `note` string")
}

fn string_literal(expr: &Expr) -> Option<String> {
    match expr {
        Expr::Lit(ExprLit { lit: Lit::Str(text), .. }) => Some(text.value()),
        _ => None,
    }
}

/// The advice shown to the user, from a note shaped `{note: <text>, reason: <why>[, renamed_to: <key>]}`.
///
/// `None` for keys that moved to another registry (the GenAI conventions): they are still valid there,
/// so rejecting them would be wrong.
fn advice(note: &str) -> Option<String> {
    let body = note.trim().strip_prefix("{note: ")?.strip_suffix('}')?;
    let (text, reason) = body.rsplit_once(", reason: ")?;
    if let Some((_, renamed_to)) = reason.split_once("renamed_to: ") {
        return Some(format!("use `{}`", renamed_to.trim()));
    }
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let text = text.trim_end_matches('.');
    if text.starts_with("Moved to ") {
        return None;
    }
    if text == "Uncategorized" {
        return Some(String::new());
    }
    let text =
        ["Removed, ", "Removed. ", "Deprecated, "].iter().find_map(|prefix| text.strip_prefix(prefix)).unwrap_or(text);
    let text = match text.strip_prefix("Replaced by ") {
        Some(rest) => format!("use {rest}"),
        None => text.to_owned(),
    };
    Some(lowercase_first(&text))
}

fn lowercase_first(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map(|first| first.to_lowercase().chain(chars).collect()).unwrap_or_default()
}

fn render(version: &str, keys: &[(String, String)]) -> String {
    let mut out = format!(
        "//! Deprecated attribute keys of the OpenTelemetry semantic conventions, with the advice shown to\n\
         //! the user. Generated from `{SEMCONV_PACKAGE}` {version} by `semconv_regen.rs`: do not edit,\n\
         //! rewrite with `{REGENERATE_VAR}=1 cargo test -p traced-macros`.\n\n\
         /// `(key, advice)`, sorted by key; an empty advice when the conventions give none.\n\
         #[rustfmt::skip]\n\
         pub(crate) const DEPRECATED_KEYS: &[(&str, &str)] = &[\n"
    );
    for (key, advice) in keys {
        out.push_str(&format!("    ({key:?}, {advice:?}),\n"));
    }
    out.push_str("];\n");
    out
}

#[test]
fn advice_reads_like_a_compiler_hint() {
    let note = |text: &str| advice(&format!("{{note: {text}}}"));
    let renamed = note("Replaced by `url.full`., reason: renamed, renamed_to: url.full");
    assert_eq!(renamed.as_deref(), Some("use `url.full`"));
    let split = note("Split to `url.path` and `url.query`., reason: obsoleted");
    assert_eq!(split.as_deref(), Some("split to `url.path` and `url.query`"));
    let removed = note("Removed, no replacement at this time.\n, reason: obsoleted");
    assert_eq!(removed.as_deref(), Some("no replacement at this time"));
    assert_eq!(note("Moved to the [GenAI repository](https://example).\n, reason: uncategorized"), None);
    assert_eq!(note("Uncategorized., reason: uncategorized").as_deref(), Some(""));
}
