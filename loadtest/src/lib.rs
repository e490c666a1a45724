//! The BF-1 Black Friday simulator (see `shared/WORKLOAD.md`): an open-model
//! load generator that drives the orchestrator in-process or over HTTP,
//! simulates the warehouse floor and the carriers, audits the invariants at
//! the end and writes a report people can read.
//!
//! Module map: [`profile`] and [`schedule`] say how many orders arrive when;
//! [`workload`] and [`demand`] say what they ask for, [`carts`] which
//! orders hold first and which carts are abandoned; [`driver`] (with
//! [`driver_inprocess`] and [`driver_http`]) talks to the system under test
//! ([`http_bench`] measures the HTTP driver alone);
//! [`simulator`] answers released waves, its carriers in [`transit`];
//! [`histo`] and [`book`] record what happened ([`delivery`]: the shipping
//! figures and promises kept; [`book_holds`]: the carts' holds); [`runner`]
//! runs it all; [`audit`] checks the invariants ([`audit_holds`]: the carts';
//! [`feed_audit`]: the events feed and the webhooks [`receiver`] against
//! [`book_events`]);
//! [`report`] and [`chart`] write the results; [`knee`] steps the rate up;
//! [`cli`] is the command line.
//!
//! Architecture invariant: the load tester only uses the facade's public
//! methods and the HTTP API (plus read-only counts from `Shared` for memory
//! per actor); it never reaches into actors, so what it checks is what a
//! client could see.

pub mod audit;
pub mod audit_holds;
pub mod book;
pub mod book_events;
pub mod book_holds;
pub mod carts;
pub mod chart;
pub mod cli;
pub mod delivery;
pub mod demand;
pub mod driver;
pub mod driver_http;
pub mod driver_inprocess;
pub mod feed_audit;
pub mod histo;
pub mod hooks_run;
pub mod http_bench;
pub mod knee;
pub mod profile;
pub mod receiver;
pub mod report;
pub mod runner;
pub mod schedule;
pub mod seeded;
pub mod simulator;
pub mod transit;
pub mod workload;
