use opentelemetry::trace::{SpanContext, TraceContextExt as _};
use opentelemetry::Context;
use traced::traced;

#[traced(parent = cx)]
fn owned(cx: Context) {}

// The parent and the links are borrowed: the body still has them.
#[traced(parent = cx, links(link))]
fn still_usable(cx: Context, link: SpanContext) -> (Context, SpanContext) {
    (cx, link)
}

#[traced(parent = cx)]
fn borrowed(cx: &Context) {}

#[traced(parent = span_context)]
fn span_context(span_context: SpanContext) {}

#[traced(parent = &span_context)]
fn span_context_reference(span_context: SpanContext) {}

#[traced(parent = cx)]
fn optional(cx: Option<Context>) {}

#[traced(parent = cx.as_ref())]
fn optional_reference(cx: &Option<Context>) {}

#[traced(parent = span_context)]
fn optional_span_context(span_context: Option<SpanContext>) {}

#[traced(parent = None::<Context>)]
fn none() {}

#[traced(parent = &Context::current())]
fn temporary() {}

#[traced(root, name = "fresh")]
fn root() {}

#[traced(links(first, second, third.as_ref(), fourth))]
fn linked(first: SpanContext, second: &SpanContext, third: Option<SpanContext>, fourth: Option<&SpanContext>) {}

#[traced(root, links(Context::current().span().span_context().clone()))]
fn root_linked_to_the_current_span() {}

#[traced(parent = &cx, links(link), kind = consumer, attributes(id))]
async fn async_everything(cx: Context, link: SpanContext, id: u64) -> Result<u64, std::io::Error> {
    Ok(id)
}

struct Handler;

#[async_trait::async_trait]
trait Handle {
    async fn handle(&self, cx: Context) -> u8;
}

#[async_trait::async_trait]
impl Handle for Handler {
    #[traced(parent = cx)]
    async fn handle(&self, cx: Context) -> u8 {
        1
    }
}

fn main() {
    owned(Context::new());
    let _ = still_usable(Context::new(), SpanContext::empty_context());
    borrowed(&Context::new());
    span_context(SpanContext::empty_context());
    span_context_reference(SpanContext::empty_context());
    optional(None);
    optional_reference(&Some(Context::new()));
    optional_span_context(Some(SpanContext::empty_context()));
    none();
    temporary();
    root();
    linked(SpanContext::empty_context(), &SpanContext::empty_context(), None, None);
    root_linked_to_the_current_span();
    let _future = async_everything(Context::new(), SpanContext::empty_context(), 1);
    let _boxed = Handler.handle(Context::new());
}
