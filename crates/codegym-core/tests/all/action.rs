//! Property tests (the fuzz target) of the tool-call parser: any text gives a call or an error
//! message, never a panic, and every call written in any format by a template parses back.
//! Failing inputs proptest finds are kept in `proptest-regressions/` and replayed first.

use codegym_core::{parse_call, CallFormat};
use proptest::prelude::*;
use serde_json::{Map, Value};

const FORMATS: [CallFormat; 4] = [
    CallFormat::Auto,
    CallFormat::CodeGym,
    CallFormat::Hermes,
    CallFormat::OpenAi,
];

/// Text made of the pieces the parser looks for, so that fuzzing reaches its deeper paths.
fn tricky_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("<|FunctionCallBegin|>".to_owned()),
        Just("<|FunctionCallEnd|>".to_owned()),
        Just("<tool_call>".to_owned()),
        Just("</tool_call>".to_owned()),
        Just(r#"{"name": "A", "parameters": {"x": 1}}"#.to_owned()),
        Just(r#"{"tool_calls": [{"function": {"name": "B", "arguments": "{}"}}]}"#.to_owned()),
        Just("[".to_owned()),
        Just("]".to_owned()),
        Just("{".to_owned()),
        Just("}".to_owned()),
        Just("\"".to_owned()),
        Just("'".to_owned()),
        Just("\\".to_owned()),
        Just("\u{0}".to_owned()),
        "[a-z ]{0,8}",
        any::<String>(),
    ];
    proptest::collection::vec(piece, 0..12).prop_map(|pieces| pieces.concat())
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<String>().prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::btree_map("[a-z_]{1,6}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn render(format: usize, name: &str, params: &Map<String, Value>, before: &str) -> String {
    let args = Value::Object(params.clone());
    let body = match format {
        0 => format!(
            "<|FunctionCallBegin|>[{}]<|FunctionCallEnd|>",
            serde_json::json!({"name": name, "parameters": args})
        ),
        1 => format!(
            "<tool_call>{}</tool_call>",
            serde_json::json!({"name": name, "arguments": args})
        ),
        _ => {
            return serde_json::json!({"tool_calls": [{"type": "function", "function":
                {"name": name, "arguments": args.to_string()}}]})
            .to_string()
        }
    };
    format!("{before}{body}\n")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn any_text_gives_a_call_or_an_error_message(text in tricky_text()) {
        for format in FORMATS {
            match parse_call(&text, format) {
                Ok(call) => {
                    prop_assert!(!call.name.trim().is_empty());
                    let action: Value = serde_json::from_str(&call.to_action()).unwrap();
                    prop_assert!(action["parameters"].is_object());
                }
                Err(e) => prop_assert!(e.to_string().starts_with("Error: ")),
            }
        }
    }

    #[test]
    fn rendered_calls_parse_back(
        format in 0usize..3,
        name in "[A-Za-z][A-Za-z0-9_]{0,12}",
        params in proptest::collection::btree_map("[a-z_]{1,6}", json_value(), 0..4),
        before in "[a-zA-Z .,\n]{0,40}",
    ) {
        let params: Map<String, Value> = params.into_iter().collect();
        let text = render(format, &name, &params, &before);
        let call = parse_call(&text, CallFormat::Auto).unwrap();
        prop_assert_eq!(&call.name, &name);
        prop_assert_eq!(&call.parameters, &params);
    }
}
