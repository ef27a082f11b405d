//! Log records on the console: one line each, with the trace and span id that correlate it.

use std::fmt::Write as _;
use std::time::Duration;

use opentelemetry::logs::AnyValue;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::logs::{LogBatch, LogExporter, SdkLogRecord};

use super::{format, ConsoleOutput};

#[derive(Debug)]
pub(crate) struct ConsoleLogExporter {
    output: ConsoleOutput,
}

impl ConsoleLogExporter {
    pub(crate) fn new(output: ConsoleOutput) -> Self {
        Self { output }
    }
}

impl LogExporter for ConsoleLogExporter {
    async fn export(&self, batch: LogBatch<'_>) -> OTelSdkResult {
        let text: String = batch.iter().map(|(record, _scope)| line(record)).collect();
        self.output.write(&text);
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        Ok(())
    }
}

/// `2026-11-24T20:16:00.123Z INFO  shop::cart: added item trace_id=.. span_id=.. {item.id=7}`
fn line(record: &SdkLogRecord) -> String {
    let time = record.timestamp().or(record.observed_timestamp()).map(format::timestamp).unwrap_or_default();
    let severity = format::text(record.severity_text().unwrap_or("-"));
    let target = record.target().map(|target| format!("{}: ", format::text(target))).unwrap_or_default();
    let body = record.body().map(any_value).unwrap_or_default();
    let mut line = format!("{time} {severity:<5} {target}{body}");
    if let Some(context) = record.trace_context() {
        let _ = write!(line, " trace_id={} span_id={}", context.trace_id, context.span_id);
    }
    let attributes: Vec<String> = record
        .attributes_iter()
        .map(|(key, value)| format!("{}={}", format::text(key.as_str()), any_value(value)))
        .collect();
    if !attributes.is_empty() {
        let _ = write!(line, " {{{}}}", attributes.join(" "));
    }
    line.push('\n');
    line
}

fn any_value(value: &AnyValue) -> String {
    match value {
        AnyValue::String(text) => format::text(text.as_str()).into_owned(),
        AnyValue::Int(number) => number.to_string(),
        AnyValue::Double(number) => number.to_string(),
        AnyValue::Boolean(flag) => flag.to_string(),
        AnyValue::Bytes(bytes) => format!("{bytes:?}"),
        AnyValue::ListAny(values) => format!("[{}]", values.iter().map(any_value).collect::<Vec<_>>().join(", ")),
        AnyValue::Map(map) => {
            let entries: Vec<String> =
                map.iter().map(|(key, value)| format!("{}={}", format::text(key.as_str()), any_value(value))).collect();
            format!("{{{}}}", entries.join(" "))
        }
        _ => format!("{value:?}"),
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry::logs::{LogRecord as _, Logger as _, LoggerProvider as _, Severity};
    use opentelemetry::trace::{TraceContextExt as _, Tracer as _, TracerProvider as _};
    use opentelemetry_sdk::logs::{InMemoryLogExporter, SdkLoggerProvider};
    use opentelemetry_sdk::trace::SdkTracerProvider;

    use super::*;

    /// A log message quoting client input (`login failed for {user}`) prints as one line: no newline,
    /// carriage return, ANSI escape or bidirectional override reaches the terminal.
    #[test]
    fn a_hostile_log_record_prints_on_one_line_without_control_characters() {
        const HOSTILE: &str = "x\n2026-01-01T00:00:00.000Z ERROR forged\r\u{1b}[2J\u{85}\u{202e}";
        let memory = InMemoryLogExporter::default();
        let logs = SdkLoggerProvider::builder().with_simple_exporter(memory.clone()).build();
        let logger = logs.logger("shop");
        let mut record = logger.create_log_record();
        record.set_body(HOSTILE.into());
        record.add_attribute(HOSTILE, HOSTILE);
        record.add_attribute("list", AnyValue::ListAny(Box::new(vec![HOSTILE.into()])));
        logger.emit(record);
        let exported = memory.get_emitted_logs().expect("logs");
        let text = line(&exported[0].record);
        assert_eq!(text.lines().count(), 1, "{text}");
        let control = text.trim_end_matches('\n').chars().find(|c| c.is_control() || *c == '\u{202e}');
        assert_eq!(control, None, "{text:?}");
        assert!(text.contains("forged"), "the text is shown, escaped: {text}");
    }

    #[test]
    fn a_record_inside_a_span_prints_its_trace_and_span_id() {
        let memory = InMemoryLogExporter::default();
        let logs = SdkLoggerProvider::builder().with_simple_exporter(memory.clone()).build();
        let tracer = SdkTracerProvider::builder().build().tracer("test");
        let logger = logs.logger("shop");
        let span_context = tracer.in_span("checkout", |cx| {
            let mut record = logger.create_log_record();
            record.set_severity_text("INFO");
            record.set_severity_number(Severity::Info);
            record.set_body("added item".into());
            record.set_target("shop::cart");
            record.add_attribute("item.id", 7);
            logger.emit(record);
            cx.span().span_context().clone()
        });
        let exported = memory.get_emitted_logs().expect("logs");
        let text = line(&exported[0].record);
        let expected = format!(
            " INFO  shop::cart: added item trace_id={} span_id={} {{item.id=7}}\n",
            span_context.trace_id(),
            span_context.span_id()
        );
        assert!(text.ends_with(&expected), "{text}");
    }
}
