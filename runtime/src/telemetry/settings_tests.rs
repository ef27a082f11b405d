use std::collections::HashMap;
use std::time::Duration;

use super::*;

fn parse(vars: &[(&str, &str)]) -> Result<Settings, InvalidSetting> {
    let map: HashMap<String, String> = vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    Settings::from_vars(&map)
}

fn settings(vars: &[(&str, &str)]) -> Settings {
    match parse(vars) {
        Ok(settings) => settings,
        Err(error) => panic!("{error}"),
    }
}

fn error(vars: &[(&str, &str)]) -> InvalidSetting {
    match parse(vars) {
        Ok(settings) => panic!("expected an error, got {settings:?}"),
        Err(error) => error,
    }
}

#[test]
fn defaults_follow_the_specification() {
    let s = Settings::default();
    assert!(!s.disabled);
    let executable = std::env::current_exe().expect("the test binary has a path");
    let executable = executable.file_name().and_then(|name| name.to_str()).expect("a UTF-8 file name");
    assert_eq!(s.service_name, format!("unknown_service:{executable}"));
    assert_eq!(s.traces_exporters, vec![ExporterKind::Otlp]);
    assert_eq!(s.metrics_exporters, vec![ExporterKind::Otlp]);
    assert_eq!(s.logs_exporters, vec![ExporterKind::Otlp]);
    assert_eq!(s.otlp_traces.protocol, Protocol::HttpProtobuf);
    assert_eq!(s.otlp_traces.endpoint, "http://localhost:4318/v1/traces");
    assert_eq!(s.otlp_metrics.endpoint, "http://localhost:4318/v1/metrics");
    assert_eq!(s.otlp_traces.timeout, Duration::from_secs(10));
    assert_eq!(s.otlp_traces.compression, None);
    assert_eq!(s.sampler, SamplerKind::ParentBasedAlwaysOn);
    assert_eq!(s.batch, BatchSettings::default());
    assert_eq!(s.batch.schedule_delay, Duration::from_millis(5000));
    assert_eq!(s.batch.max_queue_size, 2048);
    assert_eq!(s.batch.max_export_batch_size, 512);
    assert_eq!(s.metric_export_interval, Duration::from_secs(60));
    assert_eq!(s.metric_export_timeout, Duration::from_secs(30));
    assert_eq!(s.propagators, vec![PropagatorKind::TraceContext, PropagatorKind::Baggage]);
    assert_eq!(s.span_limits, SpanLimitSettings::default());
    assert_eq!(s.span_limits.attribute_value_length, None);
}

#[test]
fn empty_values_count_as_unset() {
    assert_eq!(settings(&[("OTEL_TRACES_SAMPLER", ""), ("OTEL_SERVICE_NAME", " ")]), Settings::default());
}

#[test]
fn sdk_disabled_is_a_boolean() {
    assert!(settings(&[("OTEL_SDK_DISABLED", "TRUE")]).disabled);
    assert!(!settings(&[("OTEL_SDK_DISABLED", "false")]).disabled);
    let e = error(&[("OTEL_SDK_DISABLED", "yes")]);
    assert_eq!((e.variable.as_str(), e.value.as_str()), ("OTEL_SDK_DISABLED", "yes"));
}

#[test]
fn a_disabled_sdk_ignores_values_it_would_not_use() {
    let s = settings(&[("OTEL_SDK_DISABLED", "true"), ("OTEL_TRACES_SAMPLER", "sometimes")]);
    assert!(s.disabled);
    assert_eq!(s.sampler, SamplerKind::ParentBasedAlwaysOn);
    let s = settings(&[("OTEL_SDK_DISABLED", "true"), ("OTEL_SERVICE_NAME", "shop")]);
    assert_eq!(s.service_name, "shop", "valid values are still read");
    assert_eq!(
        error(&[("OTEL_SDK_DISABLED", "false"), ("OTEL_TRACES_SAMPLER", "sometimes")]).variable,
        "OTEL_TRACES_SAMPLER"
    );
}

#[test]
fn service_name_variable_wins_over_resource_attributes() {
    let s = settings(&[("OTEL_RESOURCE_ATTRIBUTES", "service.name=from-attrs,deployment.environment=prod")]);
    assert_eq!(s.service_name, "from-attrs");
    assert_eq!(s.resource_attributes, vec![("deployment.environment".to_owned(), "prod".to_owned())]);
    let s = settings(&[("OTEL_RESOURCE_ATTRIBUTES", "service.name=from-attrs"), ("OTEL_SERVICE_NAME", "from-var")]);
    assert_eq!(s.service_name, "from-var");
}

#[test]
fn resource_attributes_are_percent_decoded() {
    let s = settings(&[("OTEL_RESOURCE_ATTRIBUTES", "team=a%20b%2Cc, region = eu-west-1 ,")]);
    assert_eq!(
        s.resource_attributes,
        vec![("team".to_owned(), "a b,c".to_owned()), ("region".to_owned(), "eu-west-1".to_owned())]
    );
}

#[test]
fn malformed_resource_attributes_are_an_error() {
    let e = error(&[("OTEL_RESOURCE_ATTRIBUTES", "team=a,oops")]);
    assert_eq!(e.variable, "OTEL_RESOURCE_ATTRIBUTES");
    assert!(e.expected.contains("`oops` is not `key=value`"), "{e}");
    assert_eq!(error(&[("OTEL_RESOURCE_ATTRIBUTES", "=value")]).variable, "OTEL_RESOURCE_ATTRIBUTES");
}

#[test]
fn exporter_lists_accept_the_guides_console_otlp() {
    let s = settings(&[
        ("OTEL_TRACES_EXPORTER", "console,otlp"),
        ("OTEL_METRICS_EXPORTER", "none"),
        ("OTEL_LOGS_EXPORTER", " console , console "),
    ]);
    assert_eq!(s.traces_exporters, vec![ExporterKind::Console, ExporterKind::Otlp]);
    assert!(s.metrics_exporters.is_empty());
    assert_eq!(s.logs_exporters, vec![ExporterKind::Console]);
}

#[test]
fn unknown_or_mixed_none_exporters_are_errors() {
    let e = error(&[("OTEL_TRACES_EXPORTER", "jaeger")]);
    assert_eq!((e.variable.as_str(), e.value.as_str()), ("OTEL_TRACES_EXPORTER", "jaeger"));
    assert!(e.expected.contains("`otlp`"));
    assert_eq!(error(&[("OTEL_LOGS_EXPORTER", "none,otlp")]).variable, "OTEL_LOGS_EXPORTER");
}

#[test]
fn generic_http_endpoint_gets_the_signal_path() {
    let s = settings(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/")]);
    assert_eq!(s.otlp_traces.endpoint, "http://collector:4318/v1/traces");
    assert_eq!(s.otlp_metrics.endpoint, "http://collector:4318/v1/metrics");
    assert_eq!(s.otlp_logs.endpoint, "http://collector:4318/v1/logs");
    let s = settings(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "https://gw.example/otlp")]);
    assert_eq!(s.otlp_traces.endpoint, "https://gw.example/otlp/v1/traces");
}

#[test]
fn signal_endpoint_is_used_as_is_and_wins() {
    let s = settings(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://generic:4318"),
        ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://traces:9999/custom"),
    ]);
    assert_eq!(s.otlp_traces.endpoint, "http://traces:9999/custom");
    assert_eq!(s.otlp_logs.endpoint, "http://generic:4318/v1/logs");
}

#[test]
fn grpc_endpoint_gets_no_path() {
    let s = settings(&[("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")]);
    assert_eq!(s.otlp_traces.endpoint, "http://localhost:4317");
    let s =
        settings(&[("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"), ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://localhost:4317")]);
    assert_eq!(s.otlp_metrics.endpoint, "http://localhost:4317");
    assert_eq!(s.otlp_metrics.protocol, Protocol::Grpc);
}

#[test]
fn signal_protocol_wins_over_generic() {
    let s = settings(&[("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"), ("OTEL_EXPORTER_OTLP_LOGS_PROTOCOL", "http/json")]);
    assert_eq!(s.otlp_traces.protocol, Protocol::Grpc);
    assert_eq!(s.otlp_logs.protocol, Protocol::HttpJson);
    assert_eq!(s.otlp_logs.endpoint, "http://localhost:4318/v1/logs");
}

#[test]
fn bad_protocol_and_endpoint_are_errors() {
    let e = error(&[("OTEL_EXPORTER_OTLP_PROTOCOL", "udp")]);
    assert_eq!((e.variable.as_str(), e.value.as_str()), ("OTEL_EXPORTER_OTLP_PROTOCOL", "udp"));
    assert!(e.expected.contains("`http/protobuf`"));
    for bad in ["localhost:4317", "not a url", "ftp://host:21", "http://"] {
        let e = error(&[("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", bad)]);
        assert_eq!(e.variable, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "{bad}");
    }
}

#[test]
fn headers_are_parsed_and_decoded() {
    let s = settings(&[("OTEL_EXPORTER_OTLP_HEADERS", "signoz-ingestion-key=abc%3D%3D,x-team = core")]);
    let expected =
        vec![("signoz-ingestion-key".to_owned(), "abc==".to_owned()), ("x-team".to_owned(), "core".to_owned())];
    assert_eq!(s.otlp_traces.headers, expected);
    assert_eq!(s.otlp_logs.headers, expected);
    let s = settings(&[("OTEL_EXPORTER_OTLP_HEADERS", "a=1"), ("OTEL_EXPORTER_OTLP_METRICS_HEADERS", "b=2")]);
    assert_eq!(s.otlp_metrics.headers, vec![("b".to_owned(), "2".to_owned())]);
}

#[test]
fn malformed_headers_are_errors() {
    for (bad, problem) in [
        ("novalue", "entry 1 is not `name=value`"),
        ("a=1,bad header=1", "entry 2 does not start with a valid header name"),
        ("=x", "entry 1 is not `name=value`"),
        ("authorization=Bearer HDRSECRET,oops", "entry 2 is not `name=value`"),
        ("x-key=HDR%0ASECRET", "the value of header `x-key` (entry 1) is not a valid header value"),
        ("x-key=HDR%FFSECRET", "the value of header `x-key` (entry 1) is not UTF-8 once percent-decoded"),
    ] {
        let e = error(&[("OTEL_EXPORTER_OTLP_TRACES_HEADERS", bad)]);
        let message = e.to_string();
        assert_eq!((e.variable.as_str(), e.value.as_str()), ("OTEL_EXPORTER_OTLP_TRACES_HEADERS", ""));
        assert!(message.ends_with(&format!("({problem})")), "{message}");
        assert!(message.starts_with("invalid value for `OTEL_EXPORTER_OTLP_TRACES_HEADERS`: expected"), "{message}");
        assert!(!message.contains("SECRET") && !message.contains("novalue"), "{message}");
    }
}

#[test]
fn an_endpoint_in_an_error_has_no_userinfo() {
    let e = error(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "ftp://user:PWSECRET@collector:4317")]);
    assert_eq!(e.value, "ftp://collector:4317");
    assert!(!e.to_string().contains("PWSECRET"), "{e}");
}

#[test]
fn debug_output_shows_no_header_value_and_no_userinfo() {
    let s = settings(&[
        ("OTEL_EXPORTER_OTLP_HEADERS", "authorization=Bearer HDRSECRET"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://user:PWSECRET@collector:4318"),
    ]);
    let debug = format!("{s:?}");
    assert!(debug.contains("authorization") && debug.contains("collector:4318/v1/traces"), "{debug}");
    assert!(!debug.contains("SECRET"), "{debug}");
}

#[test]
fn resource_attribute_errors_still_quote_the_entry() {
    let e = error(&[("OTEL_RESOURCE_ATTRIBUTES", "team=a,oops")]);
    assert!(e.to_string().ends_with("(`oops` is not `key=value`)"), "{e}");
}

#[test]
fn timeout_and_compression() {
    let s = settings(&[
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "2500"),
        ("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "100"),
        ("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip"),
        ("OTEL_EXPORTER_OTLP_LOGS_COMPRESSION", "none"),
    ]);
    assert_eq!(s.otlp_traces.timeout, Duration::from_millis(100));
    assert_eq!(s.otlp_metrics.timeout, Duration::from_millis(2500));
    assert_eq!(s.otlp_traces.compression, Some(Compression::Gzip));
    assert_eq!(s.otlp_logs.compression, None);
    assert_eq!(error(&[("OTEL_EXPORTER_OTLP_TIMEOUT", "10s")]).variable, "OTEL_EXPORTER_OTLP_TIMEOUT");
    assert_eq!(error(&[("OTEL_EXPORTER_OTLP_COMPRESSION", "brotli")]).variable, "OTEL_EXPORTER_OTLP_COMPRESSION");
}

#[test]
fn every_spec_sampler_is_accepted() {
    let cases = [
        ("always_on", SamplerKind::AlwaysOn),
        ("always_off", SamplerKind::AlwaysOff),
        ("traceidratio", SamplerKind::TraceIdRatio(0.25)),
        ("parentbased_always_on", SamplerKind::ParentBasedAlwaysOn),
        ("parentbased_always_off", SamplerKind::ParentBasedAlwaysOff),
        ("parentbased_traceidratio", SamplerKind::ParentBasedTraceIdRatio(0.25)),
    ];
    for (name, expected) in cases {
        let s = settings(&[("OTEL_TRACES_SAMPLER", name), ("OTEL_TRACES_SAMPLER_ARG", "0.25")]);
        assert_eq!(s.sampler, expected, "{name}");
    }
    assert_eq!(settings(&[("OTEL_TRACES_SAMPLER", "traceidratio")]).sampler, SamplerKind::TraceIdRatio(1.0));
}

#[test]
fn bad_sampler_or_ratio_is_an_error() {
    let e = error(&[("OTEL_TRACES_SAMPLER", "sometimes")]);
    assert_eq!((e.variable.as_str(), e.value.as_str()), ("OTEL_TRACES_SAMPLER", "sometimes"));
    assert!(e.expected.contains("parentbased_traceidratio"));
    let e = error(&[("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"), ("OTEL_TRACES_SAMPLER_ARG", "1.5")]);
    assert_eq!((e.variable.as_str(), e.value.as_str()), ("OTEL_TRACES_SAMPLER_ARG", "1.5"));
    let e = error(&[("OTEL_TRACES_SAMPLER", "traceidratio"), ("OTEL_TRACES_SAMPLER_ARG", "half")]);
    assert_eq!(e.variable, "OTEL_TRACES_SAMPLER_ARG");
}

#[test]
fn batch_settings() {
    let s = settings(&[
        ("OTEL_BSP_SCHEDULE_DELAY", "100"),
        ("OTEL_BSP_EXPORT_TIMEOUT", "2000"),
        ("OTEL_BSP_MAX_QUEUE_SIZE", "64"),
        ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "8"),
    ]);
    let expected = BatchSettings {
        schedule_delay: Duration::from_millis(100),
        export_timeout: Duration::from_secs(2),
        max_queue_size: 64,
        max_export_batch_size: 8,
    };
    assert_eq!(s.batch, expected);
    let e = error(&[("OTEL_BSP_MAX_QUEUE_SIZE", "10"), ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "20")]);
    assert_eq!((e.variable.as_str(), e.value.as_str()), ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "20"));
    assert_eq!(error(&[("OTEL_BSP_MAX_QUEUE_SIZE", "-1")]).variable, "OTEL_BSP_MAX_QUEUE_SIZE");
    assert_eq!(error(&[("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "0")]).variable, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE");
    let small_queue = settings(&[("OTEL_BSP_MAX_QUEUE_SIZE", "100")]);
    assert_eq!(small_queue.batch.max_export_batch_size, 100, "the default batch size shrinks to the queue");
}

#[test]
fn log_batch_settings_have_their_own_variables_and_defaults() {
    let s = Settings::default();
    assert_eq!(s.log_batch, BatchSettings { schedule_delay: Duration::from_secs(1), ..BatchSettings::default() });
    let s = settings(&[
        ("OTEL_BLRP_MAX_QUEUE_SIZE", "100"),
        ("OTEL_BSP_MAX_QUEUE_SIZE", "7"),
        ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "7"),
    ]);
    assert_eq!((s.log_batch.max_queue_size, s.batch.max_queue_size), (100, 7));
    let e = error(&[("OTEL_BLRP_MAX_QUEUE_SIZE", "10"), ("OTEL_BLRP_MAX_EXPORT_BATCH_SIZE", "20")]);
    assert_eq!((e.variable.as_str(), e.value.as_str()), ("OTEL_BLRP_MAX_EXPORT_BATCH_SIZE", "20"));
    assert!(e.to_string().contains("at most `OTEL_BLRP_MAX_QUEUE_SIZE` (10)"), "{e}");
}

#[test]
fn propagators() {
    let s = settings(&[("OTEL_PROPAGATORS", "b3multi,tracecontext,b3")]);
    assert_eq!(s.propagators, vec![PropagatorKind::B3Multi, PropagatorKind::TraceContext, PropagatorKind::B3]);
    assert!(settings(&[("OTEL_PROPAGATORS", "none")]).propagators.is_empty());
    assert_eq!(error(&[("OTEL_PROPAGATORS", "xray")]).variable, "OTEL_PROPAGATORS");
}

#[test]
fn propagators_are_named_in_any_case_as_exporters_are() {
    let s = settings(&[("OTEL_PROPAGATORS", "TraceContext, Baggage,B3Multi"), ("OTEL_TRACES_EXPORTER", "Console")]);
    assert_eq!(s.propagators, vec![PropagatorKind::TraceContext, PropagatorKind::Baggage, PropagatorKind::B3Multi]);
    assert!(settings(&[("OTEL_PROPAGATORS", "NONE")]).propagators.is_empty());
}

#[test]
fn samplers_and_protocols_are_named_in_any_case() {
    let s = settings(&[("OTEL_TRACES_SAMPLER", "ParentBased_TraceIdRatio"), ("OTEL_TRACES_SAMPLER_ARG", "0.25")]);
    assert_eq!(s.sampler, SamplerKind::ParentBasedTraceIdRatio(0.25));
    assert_eq!(settings(&[("OTEL_TRACES_SAMPLER", "ALWAYS_OFF")]).sampler, SamplerKind::AlwaysOff);
    let s = settings(&[("OTEL_EXPORTER_OTLP_PROTOCOL", "GRPC"), ("OTEL_TRACES_EXPORTER", "otlp")]);
    assert_eq!(s.otlp_traces.protocol, Protocol::Grpc);
    assert_eq!(error(&[("OTEL_TRACES_SAMPLER", "Always")]).variable, "OTEL_TRACES_SAMPLER");
}

#[test]
fn span_limits_prefer_the_span_specific_variable() {
    let s = settings(&[
        ("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "64"),
        ("OTEL_ATTRIBUTE_COUNT_LIMIT", "10"),
        ("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "20"),
        ("OTEL_SPAN_EVENT_COUNT_LIMIT", "5"),
        ("OTEL_SPAN_LINK_COUNT_LIMIT", "3"),
    ]);
    assert_eq!(s.span_limits.attribute_value_length, Some(64));
    assert_eq!(s.span_limits.attribute_count, 20);
    assert_eq!(s.span_limits.event_count, 5);
    assert_eq!(s.span_limits.link_count, 3);
    assert_eq!(s.span_limits.event_attribute_count, 10, "the general count limit covers event attributes");
    assert_eq!(s.span_limits.link_attribute_count, 10, "and link attributes");
    let s = settings(&[("OTEL_ATTRIBUTE_COUNT_LIMIT", "10"), ("OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT", "4")]);
    assert_eq!((s.span_limits.event_attribute_count, s.span_limits.link_attribute_count), (4, 10));
    let s = settings(&[("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "64"), ("OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", "16")]);
    assert_eq!(s.span_limits.attribute_value_length, Some(16));
    assert_eq!(error(&[("OTEL_SPAN_EVENT_COUNT_LIMIT", "many")]).variable, "OTEL_SPAN_EVENT_COUNT_LIMIT");
}

#[test]
fn metric_interval_and_console_format() {
    let s = settings(&[
        ("OTEL_METRIC_EXPORT_INTERVAL", "1000"),
        ("OTEL_METRIC_EXPORT_TIMEOUT", "500"),
        ("TRACED_CONSOLE_FORMAT", "raw"),
    ]);
    assert_eq!(s.metric_export_interval, Duration::from_secs(1));
    assert_eq!(s.metric_export_timeout, Duration::from_millis(500));
    assert_eq!(s.console_format, ConsoleFormat::Raw);
    assert_eq!(error(&[("TRACED_CONSOLE_FORMAT", "pretty")]).variable, "TRACED_CONSOLE_FORMAT");
}

#[test]
fn code_attributes() {
    assert!(Settings::default().code_attributes);
    assert!(!settings(&[("TRACED_CODE_ATTRIBUTES", "false")]).code_attributes);
    assert!(settings(&[("TRACED_CODE_ATTRIBUTES", "true")]).code_attributes);
    assert_eq!(error(&[("TRACED_CODE_ATTRIBUTES", "no")]).variable, "TRACED_CODE_ATTRIBUTES");
}

#[test]
fn span_level() {
    assert_eq!(Settings::default().span_level, LevelFilter::INFO);
    assert_eq!(settings(&[("TRACED_SPAN_LEVEL", "trace")]).span_level, LevelFilter::TRACE);
    assert_eq!(settings(&[("TRACED_SPAN_LEVEL", "Warn")]).span_level, LevelFilter::WARN);
    assert_eq!(settings(&[("TRACED_SPAN_LEVEL", "off")]).span_level, LevelFilter::OFF);
    assert_eq!(error(&[("TRACED_SPAN_LEVEL", "verbose")]).variable, "TRACED_SPAN_LEVEL");
}

#[test]
fn log_level() {
    assert_eq!(Settings::default().log_level, LevelFilter::INFO);
    assert_eq!(settings(&[("TRACED_LOG_LEVEL", "debug")]).log_level, LevelFilter::DEBUG);
    assert_eq!(settings(&[("TRACED_LOG_LEVEL", "OFF")]).log_level, LevelFilter::OFF);
    assert_eq!(error(&[("TRACED_LOG_LEVEL", "loud")]).variable, "TRACED_LOG_LEVEL");
}

#[test]
fn the_guides_environment_block_parses() {
    let s = settings(&[
        ("OTEL_RESOURCE_ATTRIBUTES", "service.name=fastapi-sample-app"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://localhost:4317"),
        ("OTEL_EXPORTER_OTLP_HEADERS", "signoz-ingestion-key=secret"),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ("OTEL_TRACES_EXPORTER", "console,otlp"),
        ("OTEL_METRICS_EXPORTER", "console,otlp"),
        ("OTEL_LOGS_EXPORTER", "console,otlp"),
    ]);
    assert_eq!(s.service_name, "fastapi-sample-app");
    assert_eq!(s.otlp_traces.endpoint, "http://localhost:4317");
    assert_eq!(s.otlp_traces.protocol, Protocol::Grpc);
    assert_eq!(s.otlp_logs.headers, vec![("signoz-ingestion-key".to_owned(), "secret".to_owned())]);
}

#[test]
fn error_message_names_variable_value_and_accepted_values() {
    let message = error(&[("OTEL_TRACES_SAMPLER", "sometimes")]).to_string();
    assert!(
        message.starts_with("invalid value `sometimes` for `OTEL_TRACES_SAMPLER`: expected one of `always_on`"),
        "{message}"
    );
}

#[test]
fn redacted_query_keys_add_names() {
    assert!(Settings::default().redacted_query_keys.is_empty());
    let s = settings(&[("TRACED_REDACTED_QUERY_KEYS", " session, ,X-Api-Key ")]);
    assert_eq!(s.redacted_query_keys, ["session", "X-Api-Key"]);
}

#[test]
fn log_value_length_limit_falls_back_to_the_general_one() {
    assert_eq!(Settings::default().log_attribute_value_length, None);
    let general =
        settings(&[("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "100"), ("OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", "5")]);
    assert_eq!(general.log_attribute_value_length, Some(100));
    let specific =
        settings(&[("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "100"), ("OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT", "7")]);
    assert_eq!(specific.log_attribute_value_length, Some(7));
    assert_eq!(
        error(&[("OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT", "-1")]).variable,
        "OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT"
    );
}

#[test]
fn http_settings_default_to_nothing_excluded_or_captured() {
    let http = Settings::default().http;
    assert_eq!(http, HttpSettings::default());
    assert_eq!(http.known_methods, None, "the conventions' list");
    assert!(http.excluded_urls.is_empty());
    for patterns in [&http.server_request_headers, &http.client_response_headers, &http.sanitize_headers] {
        assert!(patterns.is_empty());
    }
}

#[test]
fn known_methods_replace_the_list_and_must_be_method_names() {
    let s = settings(&[("OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS", " GET,PURGE,, GET ")]);
    assert_eq!(s.http.known_methods, Some(vec!["GET".to_owned(), "PURGE".to_owned()]));
    let e = error(&[("OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS", "GET,BAD METHOD")]);
    assert_eq!(e.variable, "OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS");
    assert!(e.expected.contains("`BAD METHOD` is not one"), "{e}");
}

#[test]
fn the_layers_excluded_urls_win_over_the_generic_ones() {
    let s = settings(&[("OTEL_RUST_AXUM_EXCLUDED_URLS", "health, ping"), ("OTEL_RUST_EXCLUDED_URLS", "items")]);
    assert!(s.http.excluded_urls.is_excluded("/health") && s.http.excluded_urls.is_excluded("/ping"));
    assert!(!s.http.excluded_urls.is_excluded("/items/{id}"));
    let s = settings(&[("OTEL_RUST_AXUM_EXCLUDED_URLS", " "), ("OTEL_RUST_EXCLUDED_URLS", "items")]);
    assert!(s.http.excluded_urls.is_excluded("/items/{id}"), "a blank variable counts as unset");
}

#[test]
fn a_bad_regex_names_the_variable_the_value_and_the_entry() {
    for name in [
        "OTEL_RUST_AXUM_EXCLUDED_URLS",
        "OTEL_RUST_EXCLUDED_URLS",
        "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST",
        "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_RESPONSE",
        "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_CLIENT_REQUEST",
        "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_CLIENT_RESPONSE",
        "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SANITIZE_FIELDS",
    ] {
        let e = error(&[(name, "ok, x-(")]);
        assert_eq!((e.variable.as_str(), e.value.as_str()), (name, "ok, x-("));
        assert_eq!(
            e.expected,
            "a comma-separated list of regular expressions (`x-(` is not one: error: unclosed group)"
        );
    }
}

#[test]
fn capture_lists_are_case_insensitive_names_or_whole_name_regexes() {
    let s = settings(&[
        ("OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST", "X-Request-Id,x-tenant-.*"),
        ("OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_RESPONSE", "content-type"),
        ("OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_CLIENT_REQUEST", "x-client"),
        ("OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_CLIENT_RESPONSE", "server"),
        ("OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SANITIZE_FIELDS", ".*session.*"),
    ]);
    let http = &s.http;
    assert!(http.server_request_headers.matches("x-request-id") && http.server_request_headers.matches("X-TENANT-A"));
    assert!(!http.server_request_headers.matches("x-request"));
    assert!(http.server_response_headers.matches("Content-Type"));
    assert!(http.client_request_headers.matches("x-client") && http.client_response_headers.matches("server"));
    assert!(http.sanitize_headers.matches("X-Session-Id"));
}

#[test]
fn a_disabled_sdk_ignores_bad_http_settings_too() {
    let s = settings(&[("OTEL_SDK_DISABLED", "true"), ("OTEL_RUST_AXUM_EXCLUDED_URLS", "(")]);
    assert!(s.disabled);
    assert!(s.http.excluded_urls.is_empty());
}

/// One numeric variable: its range, other variables it needs (a batch size needs a queue that large),
/// and where its value lands.
struct Numeric {
    name: &'static str,
    min: u64,
    max: u64,
    with: &'static [(&'static str, &'static str)],
    read: fn(&Settings) -> u64,
}

fn millis(duration: Duration) -> u64 {
    duration.as_millis() as u64
}

fn numeric_variables() -> Vec<Numeric> {
    const QUEUE: u64 = 1_000_000;
    const BIG_QUEUES: &[(&str, &str)] =
        &[("OTEL_BSP_MAX_QUEUE_SIZE", "1000000"), ("OTEL_BLRP_MAX_QUEUE_SIZE", "1000000")];
    let n = |name, min, max, read| Numeric { name, min, max, with: &[], read };
    vec![
        n("OTEL_BSP_MAX_QUEUE_SIZE", 1, QUEUE, |s| s.batch.max_queue_size as u64),
        n("OTEL_BLRP_MAX_QUEUE_SIZE", 1, QUEUE, |s| s.log_batch.max_queue_size as u64),
        Numeric {
            with: BIG_QUEUES,
            ..n("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", 1, QUEUE, |s| s.batch.max_export_batch_size as u64)
        },
        Numeric {
            with: BIG_QUEUES,
            ..n("OTEL_BLRP_MAX_EXPORT_BATCH_SIZE", 1, QUEUE, |s| s.log_batch.max_export_batch_size as u64)
        },
        n("OTEL_BSP_SCHEDULE_DELAY", 1, 3_600_000, |s| millis(s.batch.schedule_delay)),
        n("OTEL_BLRP_SCHEDULE_DELAY", 1, 3_600_000, |s| millis(s.log_batch.schedule_delay)),
        n("OTEL_BSP_EXPORT_TIMEOUT", 1, 600_000, |s| millis(s.batch.export_timeout)),
        n("OTEL_BLRP_EXPORT_TIMEOUT", 1, 600_000, |s| millis(s.log_batch.export_timeout)),
        n("OTEL_METRIC_EXPORT_INTERVAL", 100, 86_400_000, |s| millis(s.metric_export_interval)),
        n("OTEL_METRIC_EXPORT_TIMEOUT", 1, 600_000, |s| millis(s.metric_export_timeout)),
        n("OTEL_EXPORTER_OTLP_TIMEOUT", 1, 600_000, |s| millis(s.otlp_metrics.timeout)),
        n("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", 1, 600_000, |s| millis(s.otlp_traces.timeout)),
        n("OTEL_EXPORTER_OTLP_METRICS_TIMEOUT", 1, 600_000, |s| millis(s.otlp_metrics.timeout)),
        n("OTEL_EXPORTER_OTLP_LOGS_TIMEOUT", 1, 600_000, |s| millis(s.otlp_logs.timeout)),
        n("TRACED_SHUTDOWN_TIMEOUT", 1, 600_000, |s| millis(s.shutdown_timeout)),
        n("TRACED_OTLP_MAX_REQUEST_BYTES", 1024, 256 * 1024 * 1024, |s| s.otlp_traces.max_request_bytes as u64),
        n("OTEL_ATTRIBUTE_COUNT_LIMIT", 0, 65_536, |s| s.span_limits.attribute_count.into()),
        n("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", 0, 65_536, |s| s.span_limits.attribute_count.into()),
        n("OTEL_SPAN_EVENT_COUNT_LIMIT", 0, 65_536, |s| s.span_limits.event_count.into()),
        n("OTEL_SPAN_LINK_COUNT_LIMIT", 0, 65_536, |s| s.span_limits.link_count.into()),
        n("OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT", 0, 65_536, |s| s.span_limits.event_attribute_count.into()),
        n("OTEL_LINK_ATTRIBUTE_COUNT_LIMIT", 0, 65_536, |s| s.span_limits.link_attribute_count.into()),
        n("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", 0, 16_777_216, |s| {
            s.span_limits.attribute_value_length.map_or(u64::MAX, |length| length as u64)
        }),
        n("OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", 0, 16_777_216, |s| {
            s.span_limits.attribute_value_length.map_or(u64::MAX, |length| length as u64)
        }),
        n("OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT", 0, 16_777_216, |s| {
            s.log_attribute_value_length.map_or(u64::MAX, |length| length as u64)
        }),
    ]
}

#[test]
fn every_numeric_variable_has_a_range_checked_at_both_bounds() {
    for variable in numeric_variables() {
        let with = |value: &str| {
            let mut vars = variable.with.to_vec();
            vars.push((variable.name, value));
            parse(&vars)
        };
        for accepted in [variable.min, variable.max] {
            match with(&accepted.to_string()) {
                Ok(settings) => assert_eq!((variable.read)(&settings), accepted, "{}={accepted}", variable.name),
                Err(error) => panic!("{}={accepted} is in range: {error}", variable.name),
            }
        }
        let mut refused = vec![
            (variable.max + 1).to_string(),
            u64::MAX.to_string(),
            "18446744073709551616".to_owned(),
            "-1".to_owned(),
            "1.5".to_owned(),
            "ten".to_owned(),
            "5s".to_owned(),
        ];
        if variable.min > 0 {
            refused.push((variable.min - 1).to_string());
        }
        for value in refused {
            match with(&value) {
                Ok(settings) => {
                    panic!("{}={value} is out of range, read as {}", variable.name, (variable.read)(&settings))
                }
                Err(error) => {
                    assert_eq!((error.variable.as_str(), error.value.as_str()), (variable.name, value.as_str()));
                    let message = error.to_string();
                    let range = format!("from {} to {}", variable.min, variable.max);
                    assert!(message.contains(&range), "{message}");
                }
            }
        }
    }
}

#[test]
fn range_errors_read_like_the_others() {
    let e = error(&[("OTEL_BSP_SCHEDULE_DELAY", "0")]);
    assert_eq!(
        e.to_string(),
        "invalid value `0` for `OTEL_BSP_SCHEDULE_DELAY`: expected a whole number of milliseconds from 1 to 3600000"
    );
    let e = error(&[("OTEL_BSP_MAX_QUEUE_SIZE", "1000000000")]);
    assert_eq!(e.expected, "a whole number of items from 1 to 1000000");
    for ratio in ["NaN", "inf", "-0.1", "1.0000001", "1e400"] {
        let e = error(&[("OTEL_TRACES_SAMPLER", "traceidratio"), ("OTEL_TRACES_SAMPLER_ARG", ratio)]);
        assert_eq!(e.variable, "OTEL_TRACES_SAMPLER_ARG", "{ratio}");
    }
}

#[test]
fn values_set_in_code_are_checked_too() {
    let mut s = Settings::default();
    assert_eq!(s.check_code_values(), Ok(()));
    s.batch.max_queue_size = 1_000_000_000;
    let e = s.check_code_values().expect_err("a queue of a billion");
    assert_eq!(e.variable, "Telemetry::builder().batch (max_queue_size)");
    let mut s = Settings::default();
    s.log_batch.schedule_delay = Duration::ZERO;
    let e = s.check_code_values().expect_err("a delay of zero spins");
    assert_eq!((e.variable.as_str(), e.value.as_str()), ("Telemetry::builder().log_batch (schedule_delay)", "0ns"));
    let mut s = Settings::default();
    s.batch.max_export_batch_size = 4096;
    let e = s.check_code_values().expect_err("a batch larger than the queue");
    assert!(e.expected.contains("at most `Telemetry::builder().batch (max_queue_size)` (2048)"), "{e}");
    let s = Settings { shutdown_timeout: Duration::MAX, ..Settings::default() };
    assert_eq!(s.check_code_values().map_err(|e| e.variable), Err("Telemetry::builder().shutdown_timeout".to_owned()));
}

#[test]
fn a_list_of_nothing_but_commas_is_an_error_not_an_empty_list() {
    // `,` used to mean no exporter, no propagator, or no known method (every method `_OTHER`), silently;
    // `none` says the first two on purpose.
    for name in
        ["OTEL_TRACES_EXPORTER", "OTEL_LOGS_EXPORTER", "OTEL_PROPAGATORS", "OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS"]
    {
        let e = error(&[(name, " , ,")]);
        assert_eq!((e.variable.as_str(), e.value.as_str()), (name, ", ,"), "{e}");
    }
}

#[test]
fn an_endpoint_written_wrong_is_an_error_naming_it_and_quoting_no_password() {
    // Accepted before, then refused by the exporter without naming the variable (a port typo, a
    // password's `#` or `?` ending the authority early), or refused quoting the password (`\` for `/`).
    for value in [
        "http://collector:43l7",
        "http://collector:99999",
        "http://user:SECRET@host:abc",
        "http://user:SE#CRET@host:4318",
        "http://user:SE?CRET@host:4318",
        "http://user:SECRET@@host:x",
        "http:/\\user:SECRET@host",
        "http:\\\\user:SECRET@host:4318",
    ] {
        let e = error(&[("OTEL_EXPORTER_OTLP_ENDPOINT", value)]);
        assert_eq!(e.variable, "OTEL_EXPORTER_OTLP_ENDPOINT", "{value}");
        let text = format!("{e} {e:?}");
        assert!(!text.contains("SE") && !text.contains("CRET"), "{value}: {text}");
    }
    for fine in ["http://[::1]:4317", "http://collector:4318/", "https://collector", "http://user:pw@collector:4318"] {
        settings(&[("OTEL_EXPORTER_OTLP_ENDPOINT", fine)]);
    }
}
