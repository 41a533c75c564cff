//! The Vonage Voice protocol: verifying signed webhooks ([`verify`]), signing them as Vonage
//! does ([`sign`]), typed NCCO actions ([`ncco`]) and the call events Vonage posts ([`events`]).

pub mod events;
pub mod ncco;
pub mod sign;
pub mod verify;
