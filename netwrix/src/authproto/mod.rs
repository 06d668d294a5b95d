//! The wire protocols of HTTP authentication, without any HTTP machinery: parsing
//! `WWW-Authenticate` challenges, computing and checking Digest responses (RFC 7616),
//! building and verifying NTLMv2 messages (MS-NLMP), and the SPNEGO wrapping that
//! Negotiate puts around NTLM (RFC 4178).
//!
//! Both ends of the API use them: the [`client`](crate::client) to log in with every scheme
//! the Integration API accepts, and the [`emulator`](crate::emulator) to check those logins
//! as a Netwrix server (HTTP.sys) would. Keeping one implementation for both ends is safe
//! only because the client is also tested against independent servers (Apache for Digest,
//! the pyspnego acceptor for NTLM and Negotiate).

pub mod challenge;
pub mod digest;
pub mod ntlm;
pub mod spnego;
