//! From what a model wrote to an env action.
//!
//! A model answers a turn with text that should contain exactly one tool call, in one of the
//! formats chat models are trained on:
//!
//! * CodeGym: `<|FunctionCallBegin|>[{"name": ..., "parameters": {...}}]<|FunctionCallEnd|>`
//! * Hermes / Qwen: `<tool_call>{"name": ..., "arguments": {...}}</tool_call>`
//! * OpenAI: a message or list of `tool_calls`, `{"function": {"name": ..., "arguments": "..."}}`
//!
//! [`parse_call`] finds the call and returns it as the env action
//! `{"name": ..., "parameters": {...}}`, or a [`ParseError`] whose text is meant to be shown to
//! the model as the turn's observation: a malformed call costs the agent a turn, never the
//! episode. Prose around a call is allowed (models think before they call).

use std::fmt;
use std::str::FromStr;

use serde_json::{Map, Value};

pub const CODEGYM_BEGIN: &str = "<|FunctionCallBegin|>";
pub const CODEGYM_END: &str = "<|FunctionCallEnd|>";
pub const HERMES_BEGIN: &str = "<tool_call>";
pub const HERMES_END: &str = "</tool_call>";

/// How tool calls are written in the model's text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CallFormat {
    /// Whichever of the formats below the text uses.
    Auto,
    CodeGym,
    Hermes,
    OpenAi,
}

impl FromStr for CallFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "auto" => Ok(Self::Auto),
            "codegym" => Ok(Self::CodeGym),
            "hermes" => Ok(Self::Hermes),
            "openai" => Ok(Self::OpenAi),
            other => Err(format!(
                "unknown tool-call format {other:?}; expected one of \"auto\", \"codegym\", \
                 \"hermes\", \"openai\""
            )),
        }
    }
}

/// One tool call: the tool's name and its keyword arguments.
#[derive(Clone, Debug, PartialEq)]
pub struct ToolCall {
    pub name: String,
    pub parameters: Map<String, Value>,
}

impl ToolCall {
    /// The env action: `{"name": ..., "parameters": {...}}` as compact JSON.
    pub fn to_action(&self) -> String {
        let mut action = Map::new();
        action.insert("name".into(), Value::String(self.name.clone()));
        action.insert("parameters".into(), Value::Object(self.parameters.clone()));
        Value::Object(action).to_string()
    }
}

/// Why no tool call could be read. `Display` is the observation shown to the model.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ParseError {
    /// No call in any accepted format.
    NoCall { format: CallFormat },
    /// An opening marker without its closing marker.
    Unterminated {
        begin: &'static str,
        end: &'static str,
    },
    /// More than one call in one turn.
    MultipleCalls { count: usize },
    /// The call is not valid JSON.
    InvalidJson { detail: String, hint: &'static str },
    /// The call is JSON but not of the expected shape.
    BadShape { detail: String },
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoCall { format } => write!(
                f,
                "Error: no tool call found. Call exactly one tool, written as {}",
                example(*format)
            ),
            Self::Unterminated { begin, end } => write!(
                f,
                "Error: the tool call opened with {begin} is never closed with {end}."
            ),
            Self::MultipleCalls { count } => write!(
                f,
                "Error: found {count} tool calls; call exactly one tool per turn."
            ),
            Self::InvalidJson { detail, hint } => {
                write!(
                    f,
                    "Error: the tool call is not valid JSON ({detail}).{hint}"
                )
            }
            Self::BadShape { detail } => write!(f, "Error: {detail}"),
        }
    }
}

impl std::error::Error for ParseError {}

fn example(format: CallFormat) -> &'static str {
    match format {
        CallFormat::Hermes => {
            r#"<tool_call>{"name": "ToolName", "arguments": {"arg": value}}</tool_call>"#
        }
        CallFormat::OpenAi => {
            r#"{"tool_calls": [{"type": "function", "function": {"name": "ToolName", "arguments": "{\"arg\": value}"}}]}"#
        }
        CallFormat::CodeGym | CallFormat::Auto => {
            r#"<|FunctionCallBegin|>[{"name": "ToolName", "parameters": {"arg": value}}]<|FunctionCallEnd|>"#
        }
    }
}

/// Read the single tool call in `text`.
pub fn parse_call(text: &str, format: CallFormat) -> Result<ToolCall, ParseError> {
    match format {
        CallFormat::CodeGym => {
            marked(text, CODEGYM_BEGIN, CODEGYM_END)?.map_or(Err(no_call(format)), codegym_calls)
        }
        CallFormat::Hermes => {
            marked(text, HERMES_BEGIN, HERMES_END)?.map_or(Err(no_call(format)), hermes_call)
        }
        CallFormat::OpenAi => openai_calls(text)?.ok_or(no_call(format)),
        CallFormat::Auto => {
            let codegym = marked(text, CODEGYM_BEGIN, CODEGYM_END)?;
            let hermes = marked(text, HERMES_BEGIN, HERMES_END)?;
            match (codegym, hermes) {
                (Some(_), Some(_)) => Err(ParseError::MultipleCalls { count: 2 }),
                (Some(body), None) => codegym_calls(body),
                (None, Some(body)) => hermes_call(body),
                (None, None) => openai_calls(text)?.ok_or(no_call(format)),
            }
        }
    }
}

fn no_call(format: CallFormat) -> ParseError {
    ParseError::NoCall { format }
}

/// The text between the one `begin` marker and its `end`; `None` if `begin` never occurs.
fn marked<'t>(
    text: &'t str,
    begin: &'static str,
    end: &'static str,
) -> Result<Option<&'t str>, ParseError> {
    let count = text.matches(begin).count();
    if count > 1 {
        return Err(ParseError::MultipleCalls { count });
    }
    let Some(start) = text.find(begin) else {
        return Ok(None);
    };
    let rest = &text[start + begin.len()..];
    match rest.find(end) {
        Some(stop) => Ok(Some(&rest[..stop])),
        None => Err(ParseError::Unterminated { begin, end }),
    }
}

fn json(body: &str) -> Result<Value, ParseError> {
    serde_json::from_str(body.trim()).map_err(|e| {
        let single_quotes = body.contains('\'') && !body.contains('"');
        ParseError::InvalidJson {
            detail: e.to_string(),
            hint: if single_quotes {
                " Use double quotes: JSON strings and keys are written \"like this\"."
            } else {
                ""
            },
        }
    })
}

/// CodeGym: a JSON list holding one `{"name", "parameters"}` object (a bare object is accepted).
fn codegym_calls(body: &str) -> Result<ToolCall, ParseError> {
    match json(body)? {
        Value::Array(calls) => call_object(only_call(calls, "the tool-call list")?, "parameters"),
        call @ Value::Object(_) => call_object(call, "parameters"),
        other => Err(shape(&other, "a list with one tool call")),
    }
}

/// Hermes / Qwen: one `{"name", "arguments"}` object.
fn hermes_call(body: &str) -> Result<ToolCall, ParseError> {
    call_object(json(body)?, "arguments")
}

/// OpenAI: `{"tool_calls": [...]}` (a message), or the list itself, or one tool call, each call
/// `{"function": {"name", "arguments"}}` with `arguments` a JSON object or a string of one.
/// `Ok(None)` when the text is not a JSON value of this shape at all.
fn openai_calls(text: &str) -> Result<Option<ToolCall>, ParseError> {
    let trimmed = text.trim();
    if !(trimmed.starts_with('{') || trimmed.starts_with('[')) {
        return Ok(None);
    }
    let Ok(value) = serde_json::from_str::<Value>(trimmed) else {
        return Ok(None);
    };
    let calls = match value {
        Value::Object(mut message) if message.contains_key("tool_calls") => {
            match message.remove("tool_calls") {
                Some(Value::Array(calls)) => calls,
                _ => {
                    return Err(ParseError::BadShape {
                        detail: "`tool_calls` must be a list of tool calls.".into(),
                    })
                }
            }
        }
        Value::Array(calls) => calls,
        call @ Value::Object(_) => vec![call],
        _ => return Ok(None),
    };
    let call = match only_call(calls, "`tool_calls`")? {
        Value::Object(mut call) => match call.remove("function") {
            Some(function) => function,
            None => Value::Object(call),
        },
        other => return Err(shape(&other, "a tool call object")),
    };
    call_object(call, "arguments").map(Some)
}

/// The one call of a list of calls: an empty list or several calls are errors.
fn only_call(calls: Vec<Value>, what: &str) -> Result<Value, ParseError> {
    match <[Value; 1]>::try_from(calls) {
        Ok([call]) => Ok(call),
        Err(calls) if calls.is_empty() => Err(ParseError::BadShape {
            detail: format!("{what} is empty; call exactly one tool."),
        }),
        Err(calls) => Err(ParseError::MultipleCalls { count: calls.len() }),
    }
}

/// `{"name": str, <args_key>: object | JSON string of an object}`; either of `parameters` and
/// `arguments` is accepted whatever the format prefers.
fn call_object(call: Value, args_key: &str) -> Result<ToolCall, ParseError> {
    let Value::Object(mut call) = call else {
        return Err(shape(&call, "a tool call object"));
    };
    let name = match call.remove("name") {
        Some(Value::String(name)) if !name.trim().is_empty() => name,
        Some(other) => {
            return Err(ParseError::BadShape {
                detail: format!(
                    "the tool name must be a non-empty string, not {}.",
                    kind(&other)
                ),
            })
        }
        None => {
            return Err(ParseError::BadShape {
                detail: format!(
                    "the tool call has no \"name\" (keys found: {}).",
                    keys(&call)
                ),
            })
        }
    };
    let args = call.remove(args_key).or_else(|| {
        call.remove(if args_key == "parameters" {
            "arguments"
        } else {
            "parameters"
        })
    });
    let parameters = match args {
        None => {
            if call.is_empty() {
                Map::new()
            } else {
                return Err(ParseError::BadShape {
                    detail: format!(
                        "the call to {name:?} has no \"{args_key}\" object (other keys found: {}).",
                        keys(&call)
                    ),
                });
            }
        }
        Some(Value::Object(args)) => args,
        Some(Value::String(encoded)) => match serde_json::from_str::<Value>(&encoded) {
            Ok(Value::Object(args)) => args,
            _ => {
                let detail = format!("the \"{args_key}\" of {name:?} is a string that does not ");
                return Err(ParseError::BadShape {
                    detail: detail + "hold a JSON object.",
                });
            }
        },
        Some(other) => {
            return Err(ParseError::BadShape {
                detail: format!(
                    "the \"{args_key}\" of {name:?} must be an object, not {}.",
                    kind(&other)
                ),
            })
        }
    };
    Ok(ToolCall { name, parameters })
}

fn shape(value: &Value, expected: &str) -> ParseError {
    ParseError::BadShape {
        detail: format!("expected {expected}, found {}.", kind(value)),
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

fn keys(map: &Map<String, Value>) -> String {
    if map.is_empty() {
        return "none".into();
    }
    map.keys()
        .map(|k| format!("{k:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> String {
        parse_call(text, CallFormat::Auto)
            .map(|c| c.to_action())
            .unwrap_or_else(|e| panic!("{text:?}: {e}"))
    }

    fn err(text: &str) -> String {
        match parse_call(text, CallFormat::Auto) {
            Ok(call) => panic!("{text:?} parsed as {call:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn codegym_wrapper_with_prose_around_it() {
        let text = "I will look first.\n<|FunctionCallBegin|>[{\"name\": \"Observe\", \"parameters\": {}}]<|FunctionCallEnd|>\nthen decide";
        assert_eq!(ok(text), r#"{"name":"Observe","parameters":{}}"#);
        let bare = r#"<|FunctionCallBegin|>{"name": "Done", "parameters": {"answer": 3}}<|FunctionCallEnd|>"#;
        assert_eq!(ok(bare), r#"{"name":"Done","parameters":{"answer":3}}"#);
    }

    #[test]
    fn hermes_and_openai() {
        let hermes =
            r#"<tool_call>{"name": "Add", "arguments": {"a": 1, "b": [2, "x"]}}</tool_call>"#;
        assert_eq!(
            ok(hermes),
            r#"{"name":"Add","parameters":{"a":1,"b":[2,"x"]}}"#
        );
        let nested = r#"<tool_call>{"name": "Add", "arguments": "{\"a\": 1}"}</tool_call>"#;
        assert_eq!(ok(nested), r#"{"name":"Add","parameters":{"a":1}}"#);
        let openai = r#"{"role": "assistant", "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "Done", "arguments": "{\"answer\": \"x\"}"}}]}"#;
        assert_eq!(ok(openai), r#"{"name":"Done","parameters":{"answer":"x"}}"#);
        let list = r#"[{"function": {"name": "Observe", "arguments": {}}}]"#;
        assert_eq!(ok(list), r#"{"name":"Observe","parameters":{}}"#);
    }

    #[test]
    fn malformed_calls_explain_themselves() {
        assert!(err("just prose, no call").contains("no tool call found"));
        assert!(err("<|FunctionCallBegin|>[{\"name\": \"A\"}]").contains("never closed"));
        assert!(err("<tool_call>{\"name\": \"A\"").contains("never closed"));
        let two =
            "<tool_call>{\"name\": \"A\"}</tool_call><tool_call>{\"name\": \"B\"}</tool_call>";
        assert!(err(two).contains("found 2 tool calls"));
        let two_in_list = r#"<|FunctionCallBegin|>[{"name": "A", "parameters": {}}, {"name": "B", "parameters": {}}]<|FunctionCallEnd|>"#;
        assert!(err(two_in_list).contains("found 2 tool calls"));
        let single = "<tool_call>{'name': 'A', 'arguments': {}}</tool_call>";
        assert!(err(single).contains("double quotes"));
        let wrong_keys = r#"<tool_call>{"tool": "A", "args": {}}</tool_call>"#;
        assert!(
            err(wrong_keys).contains("no \"name\""),
            "{}",
            err(wrong_keys)
        );
        let params_list = r#"<tool_call>{"name": "A", "arguments": [1]}</tool_call>"#;
        assert!(err(params_list).contains("must be an object"));
        let bad_string = r#"<tool_call>{"name": "A", "arguments": "not json"}</tool_call>"#;
        assert!(err(bad_string).contains("does not hold a JSON object"));
        assert!(err(r#"<tool_call>{"name": 5}</tool_call>"#).contains("non-empty string"));
        assert!(err("<|FunctionCallBegin|>[]<|FunctionCallEnd|>").contains("empty"));
        assert!(err(r#"{"tool_calls": []}"#).contains("empty"));
    }

    #[test]
    fn explicit_formats_only_accept_their_own_shape() {
        let hermes = r#"<tool_call>{"name": "A", "arguments": {}}</tool_call>"#;
        assert!(parse_call(hermes, CallFormat::CodeGym).is_err());
        assert!(parse_call(hermes, CallFormat::Hermes).is_ok());
        let e = parse_call("nothing", CallFormat::Hermes).unwrap_err();
        assert!(e.to_string().contains("<tool_call>"));
        assert_eq!("openai".parse(), Ok(CallFormat::OpenAi));
        assert!("xml".parse::<CallFormat>().is_err());
    }
}
