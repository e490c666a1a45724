//! The flows, as each actor kind's handling of its messages. Each file is
//! one actor kind of a [`crate::shard::Shard`]; together they are the only
//! implementation of place, route, reserve, split, backorder, drain, wave,
//! scan, cancel, return, receipt, adjustment and closure in the engine.

mod cells;
mod desk;
mod facility;
mod hold;
mod order;
mod passive;
