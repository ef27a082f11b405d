//! Acceptance, from outside: every variable that can carry a credential (endpoints with userinfo,
//! `*_HEADERS`), given valid or malformed in the ways people get them wrong, never shows the
//! credential in a start-up error (`Display` and `Debug`, what `fn main() -> Result<..>` prints) or
//! in the `Debug` of the settings.

use std::collections::HashMap;

use traced::telemetry::Settings;

const SECRET: &str = "PWSECRET";

const ENDPOINTS: [&str; 4] = [
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
    "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
];

const HEADERS: [&str; 4] = [
    "OTEL_EXPORTER_OTLP_HEADERS",
    "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
    "OTEL_EXPORTER_OTLP_METRICS_HEADERS",
    "OTEL_EXPORTER_OTLP_LOGS_HEADERS",
];

fn parse(variable: &str, value: &str) -> Result<Settings, traced::telemetry::InvalidSetting> {
    Settings::from_vars(&HashMap::from([(variable.to_owned(), value.to_owned())]))
}

fn assert_hidden(place: &str, text: &str) {
    assert!(!text.contains(SECRET), "{place} shows the credential: {text}");
}

#[test]
fn malformed_endpoints_never_show_their_userinfo() {
    let malformed = [
        // The scheme forgotten: `user:password@host:port` is what people paste.
        "user:PWSECRET@collector:4317",
        "admin:PWSECRET@[::1]:4318",
        // A password with an unencoded `/` (base64 passwords have them) ends the authority early.
        "http://user:PWSECRET/x@collector:4318",
        "http://user:ab/PWSECRET@collector:4318",
        "ftp://user:PWSECRET@collector:4318",
        "http://user:PWSECRET@",
        "http://user:PW SECRET@collector/ x".replace("PW SECRET", SECRET).leak(),
    ];
    for variable in ENDPOINTS {
        for value in malformed {
            let error = match parse(variable, value) {
                Err(error) => error,
                // Accepted: then its `Debug` must hide the userinfo.
                Ok(settings) => {
                    assert_hidden(&format!("Debug of the settings for {variable}={value}"), &format!("{settings:?}"));
                    continue;
                }
            };
            let shown = format!("{error}\n{error:?}\n{}", traced::InitError::from(error.clone()));
            assert!(shown.contains(variable), "{shown}");
            assert_hidden(&format!("the error for {variable}={value}"), &shown);
        }
    }
}

#[test]
fn valid_endpoints_with_userinfo_are_hidden_in_debug() {
    for variable in ENDPOINTS {
        let settings = parse(variable, "https://user:PWSECRET@collector.example:4318/otlp?token=PWSECRET")
            .unwrap_or_else(|error| panic!("{variable}: {error}"));
        let debug = format!("{settings:?} {settings:#?}");
        assert!(debug.contains("collector.example"), "{debug}");
        assert_hidden(variable, &debug);
    }
}

#[test]
fn header_values_are_never_echoed() {
    let malformed = [
        "authorization=Bearer PWSECRET,oops",
        "Bearer PWSECRET",
        "=PWSECRET",
        "authorization=Bearer%20PWSECRET%0A",
        "authorization=PWSECRET%FF",
        "x=1,authorization:Bearer PWSECRET",
        "authorization = Bearer PWSECRET , broken",
    ];
    for variable in HEADERS {
        for value in malformed {
            let error = parse(variable, value).expect_err(value);
            let shown = format!("{error}\n{error:?}\n{}", traced::InitError::from(error.clone()));
            assert!(shown.contains(variable), "{shown}");
            assert_hidden(&format!("the error for {variable}={value}"), &shown);
        }
        let settings = parse(variable, "authorization=Bearer PWSECRET").expect("valid headers");
        assert_hidden(&format!("Debug of the settings for {variable}"), &format!("{settings:?}"));
    }
}

#[test]
fn the_builder_and_the_guard_show_no_credential_in_debug() {
    use traced::telemetry::{ExporterKind, Protocol};
    for protocol in [Protocol::Grpc, Protocol::HttpProtobuf, Protocol::HttpJson] {
        let builder = traced::Telemetry::builder()
            .ignore_environment()
            .otlp_protocol(protocol)
            .otlp_endpoint("http://user:PWSECRET@127.0.0.1:9/?token=PWSECRET")
            .otlp_header("authorization", "Bearer PWSECRET")
            .traces_exporters([ExporterKind::Otlp])
            .metrics_exporters([ExporterKind::Otlp])
            .logs_exporters([ExporterKind::Otlp])
            .tracing_subscriber(false)
            .shutdown_timeout(std::time::Duration::from_millis(200));
        assert_hidden("Debug of the builder", &format!("{builder:?}"));
        let guard = builder.init().unwrap_or_else(|error| panic!("{protocol:?}: {error}"));
        let debug = format!("{guard:?} {guard:#?}");
        assert_hidden(&format!("Debug of the guard ({protocol:?})"), &debug);
        let _ = guard.shutdown();
    }
}
