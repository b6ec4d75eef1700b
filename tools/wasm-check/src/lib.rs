//! Checks a wasm module against what WeChat's `WXWebAssembly` is known to accept.
//!
//! The only Rust/wasm-bindgen module WeChat ships itself uses the MVP plus the
//! `mutable-globals` and `sign-ext` proposals, and iOS cannot export a Global.
//! [`check`] validates a module with exactly that feature set, works out which
//! proposals the module really uses (a proposal is used when the module fails to
//! validate with every proposal enabled except that one), and lists exports and
//! import modules.

use wasmparser::{ExternalKind, Parser, Payload, Validator, WasmFeatures};

/// A proposal the checker can detect, named as LLVM/binaryen name it where they do.
pub struct Feature {
    pub name: &'static str,
    pub flags: WasmFeatures,
    /// Part of the set WeChat accepts.
    pub allowed: bool,
}

/// Proposals beyond the MVP, in the order reports list them. MVP itself (`FLOATS`, `GC_TYPES`
/// gating) is always on.
const PROPOSALS: &[(&str, WasmFeatures)] = {
    use WasmFeatures as W;
    &[
        ("mutable-globals", W::MUTABLE_GLOBAL),
        ("sign-ext", W::SIGN_EXTENSION),
        ("nontrapping-fptoint", W::SATURATING_FLOAT_TO_INT),
        ("bulk-memory", W::BULK_MEMORY),
        ("bulk-memory-opt", W::BULK_MEMORY_OPT),
        ("reference-types", W::REFERENCE_TYPES),
        ("call-indirect-overlong", W::CALL_INDIRECT_OVERLONG),
        ("multivalue", W::MULTI_VALUE),
        ("simd128", W::SIMD),
        ("relaxed-simd", W::RELAXED_SIMD),
        ("threads", W::THREADS),
        ("shared-everything-threads", W::SHARED_EVERYTHING_THREADS),
        ("tail-call", W::TAIL_CALL),
        ("multi-memory", W::MULTI_MEMORY),
        ("exception-handling", W::EXCEPTIONS),
        ("legacy-exceptions", W::LEGACY_EXCEPTIONS),
        ("memory64", W::MEMORY64),
        ("extended-const", W::EXTENDED_CONST),
        ("function-references", W::FUNCTION_REFERENCES),
        ("gc", W::GC),
        ("custom-page-sizes", W::CUSTOM_PAGE_SIZES),
        ("memory-control", W::MEMORY_CONTROL),
        ("stack-switching", W::STACK_SWITCHING),
        ("wide-arithmetic", W::WIDE_ARITHMETIC),
        ("custom-descriptors", W::CUSTOM_DESCRIPTORS),
        ("compact-imports", W::COMPACT_IMPORTS),
        ("acquire-release-atomics", W::ACQUIRE_RELEASE_ATOMICS),
        ("multibyte-array-access", W::MULTIBYTE_ARRAY_ACCESS),
    ]
};

/// Proposals beyond the MVP; the allowed ones are those in [`allowed_features`].
pub fn features() -> Vec<Feature> {
    PROPOSALS
        .iter()
        .map(|&(name, flags)| Feature {
            name,
            flags,
            allowed: allowed_features().contains(flags),
        })
        .collect()
}

/// MVP + mutable-globals + sign-ext.
pub fn allowed_features() -> WasmFeatures {
    WasmFeatures::MVP | WasmFeatures::MUTABLE_GLOBAL | WasmFeatures::SIGN_EXTENSION
}

/// Every core-wasm proposal the validator knows (the component model is irrelevant here).
fn all_core_features() -> WasmFeatures {
    features()
        .iter()
        .fold(WasmFeatures::MVP, |acc, f| acc | f.flags)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub message: String,
    pub offset: Option<u64>,
}

#[derive(Debug, Clone, Default)]
pub struct Report {
    pub size: usize,
    /// Error from validating with the WeChat feature set, if any.
    pub validation: Option<Problem>,
    /// Error from validating with every proposal enabled: the module is broken, not just too new.
    pub invalid: Option<Problem>,
    /// Proposals the module uses (see the crate docs for how this is decided).
    pub used: Vec<&'static str>,
    /// Used proposals outside the allowed set.
    pub disallowed: Vec<&'static str>,
    /// Exports as (name, kind).
    pub exports: Vec<(String, &'static str)>,
    pub global_exports: Vec<String>,
    /// Distinct import module names, in first-seen order, with how many imports each has.
    pub import_modules: Vec<(String, usize)>,
    /// The `target_features` custom section (e.g. `+sign-ext`), if present.
    pub target_features: Vec<String>,
}

impl Report {
    pub fn ok(&self) -> bool {
        self.validation.is_none() && self.global_exports.is_empty()
    }

    /// Human-readable reasons the module is refused (empty when [`Report::ok`]).
    pub fn failures(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(p) = &self.invalid {
            out.push(format!("module is invalid: {}", fmt_problem(p)));
        } else if let Some(p) = &self.validation {
            let which = if self.disallowed.is_empty() {
                "a feature outside MVP + mutable-globals + sign-ext".to_string()
            } else {
                self.disallowed.join(", ")
            };
            out.push(format!(
                "uses {which}: first offending instruction: {}",
                fmt_problem(p)
            ));
        }
        for g in &self.global_exports {
            out.push(format!(
                "exports Global `{g}` (iOS WXWebAssembly cannot export a Global)"
            ));
        }
        out
    }
}

fn fmt_problem(p: &Problem) -> String {
    match p.offset {
        Some(o) => format!("{} (at offset {o:#x})", p.message),
        None => p.message.clone(),
    }
}

fn validate(bytes: &[u8], features: WasmFeatures) -> Option<Problem> {
    Validator::new_with_features(features)
        .validate_all(bytes)
        .err()
        .map(|e| Problem {
            message: e.message().to_string(),
            offset: Some(e.offset()),
        })
}

fn kind_name(kind: ExternalKind) -> &'static str {
    match kind {
        ExternalKind::Func | ExternalKind::FuncExact => "function",
        ExternalKind::Table => "table",
        ExternalKind::Memory => "memory",
        ExternalKind::Global => "global",
        ExternalKind::Tag => "tag",
    }
}

/// Checks `bytes` (a binary wasm module).
pub fn check(bytes: &[u8]) -> Report {
    let mut report = Report {
        size: bytes.len(),
        ..Report::default()
    };
    let all = all_core_features();
    report.invalid = validate(bytes, all);
    report.validation = validate(bytes, allowed_features());
    if report.invalid.is_none() {
        for f in features() {
            if validate(bytes, all.difference(f.flags)).is_some() {
                report.used.push(f.name);
                if !f.allowed {
                    report.disallowed.push(f.name);
                }
            }
        }
    }
    if let Err(p) = read_sections(bytes, &mut report) {
        report.invalid.get_or_insert(p.clone());
        report.validation.get_or_insert(p);
    }
    report
}

fn read_sections(bytes: &[u8], report: &mut Report) -> Result<(), Problem> {
    let err = |e: wasmparser::BinaryReaderError| Problem {
        message: e.message().to_string(),
        offset: Some(e.offset()),
    };
    for payload in Parser::new(0).parse_all(bytes) {
        match payload.map_err(err)? {
            Payload::ImportSection(section) => {
                for import in section.into_imports() {
                    let import = import.map_err(err)?;
                    match report
                        .import_modules
                        .iter_mut()
                        .find(|(m, _)| m == import.module)
                    {
                        Some((_, n)) => *n += 1,
                        None => report.import_modules.push((import.module.to_string(), 1)),
                    }
                }
            }
            Payload::ExportSection(section) => {
                for export in section {
                    let export = export.map_err(err)?;
                    if export.kind == ExternalKind::Global {
                        report.global_exports.push(export.name.to_string());
                    }
                    report
                        .exports
                        .push((export.name.to_string(), kind_name(export.kind)));
                }
            }
            Payload::CustomSection(c) if c.name() == "target_features" => {
                report.target_features = parse_target_features(c.data());
            }
            _ => {}
        }
    }
    Ok(())
}

/// `target_features`: a vector of (prefix byte `+`/`-`/`=`, name).
fn parse_target_features(data: &[u8]) -> Vec<String> {
    let mut reader = wasmparser::BinaryReader::new(data, 0);
    let mut out = Vec::new();
    let Ok(count) = reader.read_var_u32() else {
        return out;
    };
    for _ in 0..count {
        let (Ok(prefix), Ok(name)) = (reader.read_u8(), reader.read_string()) else {
            break;
        };
        out.push(format!("{}{name}", prefix as char));
    }
    out
}

fn json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn json_problem(p: &Option<Problem>) -> String {
    match p {
        None => "null".into(),
        Some(p) => format!(
            "{{\"message\":{},\"offset\":{}}}",
            json_str(&p.message),
            p.offset.map_or("null".into(), |o| o.to_string())
        ),
    }
}

fn json_list<T>(items: &[T], f: impl Fn(&T) -> String) -> String {
    format!("[{}]", items.iter().map(f).collect::<Vec<_>>().join(","))
}

impl Report {
    /// One-line JSON (no serde: the shape is tiny and fixed).
    pub fn to_json(&self) -> String {
        format!(
            concat!(
                "{{\"ok\":{},\"size\":{},\"allowed\":[\"mvp\",\"mutable-globals\",\"sign-ext\"],",
                "\"used\":{},\"disallowed\":{},\"validation\":{},\"invalid\":{},",
                "\"globalExports\":{},\"exports\":{},\"importModules\":{},",
                "\"targetFeatures\":{},\"failures\":{}}}"
            ),
            self.ok(),
            self.size,
            json_list(&self.used, |s| json_str(s)),
            json_list(&self.disallowed, |s| json_str(s)),
            json_problem(&self.validation),
            json_problem(&self.invalid),
            json_list(&self.global_exports, |s| json_str(s)),
            json_list(&self.exports, |(n, k)| format!(
                "{{\"name\":{},\"kind\":{}}}",
                json_str(n),
                json_str(k)
            )),
            json_list(&self.import_modules, |(m, n)| format!(
                "{{\"module\":{},\"count\":{n}}}",
                json_str(m)
            )),
            json_list(&self.target_features, |s| json_str(s)),
            json_list(&self.failures(), |s| json_str(s)),
        )
    }

    /// Multi-line text for people.
    pub fn to_text(&self, path: &str) -> String {
        let mut s = format!("wasm-check {path} ({} bytes)\n", self.size);
        s += "  allowed:   mvp, mutable-globals, sign-ext\n";
        let used = if self.used.is_empty() {
            "mvp only".to_string()
        } else {
            format!("mvp, {}", self.used.join(", "))
        };
        s += &format!("  used:      {used}\n");
        if !self.target_features.is_empty() {
            s += &format!(
                "  target_features section: {}\n",
                self.target_features.join(" ")
            );
        }
        let count = |k: &str| self.exports.iter().filter(|(_, kind)| *kind == k).count();
        s += &format!(
            "  exports:   {} functions, {} memories, {} tables, {} globals\n",
            count("function"),
            count("memory"),
            count("table"),
            count("global")
        );
        let imports = if self.import_modules.is_empty() {
            "(none)".to_string()
        } else {
            self.import_modules
                .iter()
                .map(|(m, n)| format!("{m:?} ({n})"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        s += &format!("  imports:   {imports}\n");
        let failures = self.failures();
        if failures.is_empty() {
            s += "  OK\n";
        } else {
            for f in failures {
                s += &format!("  FAIL: {f}\n");
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wasm(text: &str) -> Vec<u8> {
        wat::parse_str(text).expect("valid wat")
    }

    #[test]
    fn mvp_module_passes() {
        let r = check(&wasm(
            r#"(module
                 (import "./mprtc_bg.js" "__wbg_log" (func $log (param i32)))
                 (memory (export "memory") 1)
                 (func (export "add") (param i32 i32) (result i32)
                   local.get 0 local.get 1 i32.add)
                 (func (export "f") (param f64) (result i32) local.get 0 i32.trunc_f64_u))"#,
        ));
        assert!(r.ok(), "{:?}", r.failures());
        assert!(r.used.is_empty(), "{:?}", r.used);
        assert_eq!(r.import_modules, vec![("./mprtc_bg.js".to_string(), 1)]);
        assert_eq!(r.exports.len(), 3);
    }

    #[test]
    fn bulk_memory_fails_naming_feature_and_offset() {
        let r = check(&wasm(
            r#"(module (memory 1)
                 (func (export "cp") (param i32 i32 i32)
                   local.get 0 local.get 1 local.get 2 memory.copy))"#,
        ));
        assert!(!r.ok());
        assert!(r.invalid.is_none());
        assert!(r.used.contains(&"bulk-memory"), "{:?}", r.used);
        assert!(r.disallowed.contains(&"bulk-memory"));
        let p = r.validation.as_ref().unwrap();
        assert!(p.offset.unwrap() > 8);
        let text = r.failures().join("\n");
        assert!(
            text.contains("bulk-memory") && text.contains("offset 0x"),
            "{text}"
        );
    }

    #[test]
    fn sign_ext_passes_and_is_listed() {
        let r = check(&wasm(
            r#"(module (func (export "s") (param i32) (result i32) local.get 0 i32.extend8_s))"#,
        ));
        assert!(r.ok(), "{:?}", r.failures());
        assert_eq!(r.used, vec!["sign-ext"]);
    }

    #[test]
    fn mutable_global_import_passes() {
        let r = check(&wasm(r#"(module (import "env" "g" (global (mut i32))))"#));
        assert!(r.ok(), "{:?}", r.failures());
        assert_eq!(r.used, vec!["mutable-globals"]);
    }

    #[test]
    fn exported_global_fails() {
        let r = check(&wasm(
            r#"(module (global $g i32 (i32.const 7)) (export "__abort_handler" (global $g)))"#,
        ));
        assert!(r.validation.is_none());
        assert!(!r.ok());
        assert_eq!(r.global_exports, vec!["__abort_handler".to_string()]);
        assert!(r.failures()[0].contains("__abort_handler"));
    }

    #[test]
    fn nontrapping_fptoint_and_multivalue_detected() {
        let r = check(&wasm(
            r#"(module
                 (func (export "t") (param f64) (result i32) local.get 0 i32.trunc_sat_f64_u)
                 (func (export "m") (result i32 i32) i32.const 1 i32.const 2))"#,
        ));
        assert!(!r.ok());
        assert_eq!(r.disallowed, vec!["nontrapping-fptoint", "multivalue"]);
    }

    #[test]
    fn garbage_is_invalid_and_json_is_well_formed() {
        let r = check(b"\0asm\x01\0\0\0\x05");
        assert!(!r.ok());
        assert!(r.invalid.is_some());
        let j = r.to_json();
        assert!(j.starts_with("{\"ok\":false"), "{j}");
        assert!(j.ends_with('}'));
    }

    #[test]
    fn target_features_section_is_read() {
        // count=2, '+' "sign-ext", '+' "mutable-globals"
        let mut data = vec![2u8, b'+', 8];
        data.extend_from_slice(b"sign-ext");
        data.extend_from_slice(&[b'+', 15]);
        data.extend_from_slice(b"mutable-globals");
        assert_eq!(
            parse_target_features(&data),
            vec!["+sign-ext".to_string(), "+mutable-globals".to_string()]
        );
    }
}
