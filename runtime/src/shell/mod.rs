//! The actix actors: thin shells around the state machines of `orch_actors`.
//!
//! A shell receives a message, asks its state machine to decide, carries out
//! the effects on other actors, applies the events and answers. Who may wait
//! on whom is fixed so that no cycle of waits can form:
//! orders wait on cells, desks and facilities; desks wait on cells; cells and
//! facilities wait on nobody. Messages against that direction (a desk telling
//! an order its backorder is filled, a facility telling an order its wave was
//! released) are fire-and-forget and counted in `Shared::pending`.

pub mod cell;
pub mod desk;
pub mod facility;
pub mod order;
