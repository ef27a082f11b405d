//! `#[traced]` in a few lines: `cargo run -p traced-examples --example hello`.
//!
//! Prints the trace tree on the console (`OTEL_TRACES_EXPORTER=console`, set below when unset).

use std::time::Duration;

use traced::telemetry::ExporterKind;
use traced::{traced, Telemetry};

#[derive(Debug)]
struct OutOfStock;

impl std::fmt::Display for OutOfStock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("out of stock")
    }
}

impl std::error::Error for OutOfStock {}

/// A child span named `load-item`, with `item.id` known before sampling.
#[traced(name = "load-item", attributes(item.id = item_id))]
async fn load_item(item_id: u64) -> Result<String, OutOfStock> {
    if item_id.is_multiple_of(2) {
        tokio::time::sleep(Duration::from_millis(20)).await;
        traced::record("demo.io_delay_seconds", 0.02);
    }
    if item_id == 4 {
        return Err(OutOfStock); // status ERROR, `error.type` = `OutOfStock`
    }
    Ok(format!("item {item_id}"))
}

/// The parent span: every `load-item` above becomes its child, across `.await`.
#[traced(name = "checkout", attributes(cart.size = ids.len()))]
async fn checkout(ids: &[u64]) -> Vec<Result<String, OutOfStock>> {
    let mut items = Vec::with_capacity(ids.len());
    for &id in ids {
        items.push(load_item(id).await);
    }
    items
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Console output whatever the environment says about OTLP; other OTEL_* variables still apply.
    let telemetry = Telemetry::builder()
        .service_name("hello")
        .traces_exporters([ExporterKind::Console])
        .metrics_exporters([])
        .logs_exporters([])
        .init()?;
    for item in checkout(&[1, 2, 4]).await {
        println!("{item:?}");
    }
    // Flushes the spans before the process ends.
    telemetry.shutdown()?;
    Ok(())
}
