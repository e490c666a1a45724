//! Request bodies for the wrk runs of `benches/wrk/run.sh`, from the BF-1
//! order stream, so that HTTP figures are measured on the same orders as
//! every other figure.
//!
//! `cargo run --release -p orch-benches --bin wrk_bodies -- OUT_DIR [ORDERS] [SCALE]`
//!
//! Writes `OUT_DIR/orders.jsonl`: one `POST /v1/orders` body per line with
//! the order id `@ID@`, which the lua scripts replace by a unique id; and
//! `OUT_DIR/reads.txt`: `SKU LAT LON` per line (first line's SKU and the
//! ship-to point of each order: BF-1 product-page reads).

use std::io::Write;

use orch_benches::{bf1_config, bf1_orders};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(out) = args.first() else {
        eprintln!("usage: wrk_bodies OUT_DIR [ORDERS] [SCALE]");
        std::process::exit(2);
    };
    let n: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let scale: f64 = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(0.1);
    let dir = std::path::Path::new(out);
    std::fs::create_dir_all(dir).expect("create OUT_DIR");
    let cfg = bf1_config(scale);
    let orders = bf1_orders(&cfg, n, "");
    let mut bodies = std::io::BufWriter::new(
        std::fs::File::create(dir.join("orders.jsonl")).expect("create orders.jsonl"),
    );
    let mut reads = std::io::BufWriter::new(
        std::fs::File::create(dir.join("reads.txt")).expect("create reads.txt"),
    );
    for mut o in orders {
        o.order_id = "@ID@".into();
        let body = serde_json::to_string(&o).expect("order JSON");
        writeln!(bodies, "{body}").expect("write orders.jsonl");
        writeln!(
            reads,
            "{} {} {}",
            o.lines[0].sku, o.ship_to.lat, o.ship_to.lon
        )
        .expect("write reads.txt");
    }
    bodies.flush().expect("write orders.jsonl");
    reads.flush().expect("write reads.txt");
    eprintln!(
        "wrote {n} BF-1 orders (scale {scale}) to {}",
        dir.join("orders.jsonl").display()
    );
}
