use traced::traced;

#[traced(level = verbose)]
fn unknown() {}

#[traced(level = Debug)]
fn capitalised() {}

#[traced(level = "debug")]
fn quoted() {}

#[traced(level = warn, level = info)]
fn twice() {}

#[traced(level)]
fn without_value() {}

fn main() {
    unknown();
    capitalised();
    quoted();
    twice();
    without_value();
}
