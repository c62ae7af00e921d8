//! Authentication flavors (RFC 5531 §8–§10): `opaque_auth`, AUTH_NONE and AUTH_SYS.
//!
//! A call carries a credential and a verifier, each an [`OpaqueAuth`]: a flavor number and
//! at most 400 bytes of body. courier decodes AUTH_SYS bodies into [`AuthSys`] so that a
//! server can read the caller's uid, gid and groups; other flavors are kept as bytes.

use bytes::{Bytes, BytesMut};
use courier_xdr::{Decoder, Encoder};

/// The largest `opaque_auth` body (RFC 5531 §8.2: `opaque body<400>`).
pub const MAX_AUTH_BODY: u32 = 400;
/// The longest AUTH_SYS machine name (RFC 5531 §A.1: `string machinename<255>`).
pub const MAX_MACHINE_NAME: u32 = 255;
/// The most AUTH_SYS supplementary groups (RFC 5531 §A.1: `unsigned int gids<16>`).
pub const MAX_GIDS: u32 = 16;

/// Authentication flavor numbers (RFC 5531 §8.2 and the IANA registry).
pub mod flavor {
    /// No authentication.
    pub const AUTH_NONE: u32 = 0;
    /// UNIX-style uid/gid credentials (also called AUTH_UNIX).
    pub const AUTH_SYS: u32 = 1;
    /// A short-hand credential a server may hand back for AUTH_SYS.
    pub const AUTH_SHORT: u32 = 2;
    /// Diffie-Hellman authentication.
    pub const AUTH_DH: u32 = 3;
    /// RPCSEC_GSS (RFC 2203).
    pub const RPCSEC_GSS: u32 = 6;
}

/// `opaque_auth`: a flavor and its opaque body.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OpaqueAuth {
    /// The flavor number, see [`flavor`].
    pub flavor: u32,
    /// The flavor-specific body, at most [`MAX_AUTH_BODY`] bytes.
    pub body: Bytes,
}

impl OpaqueAuth {
    /// AUTH_NONE with an empty body.
    pub const NONE: OpaqueAuth = OpaqueAuth { flavor: flavor::AUTH_NONE, body: Bytes::new() };

    pub(crate) fn encode(&self, enc: &mut Encoder<'_>) {
        enc.put_u32(self.flavor);
        // Constructed bodies are bounded; a longer one would be a bug here, not input.
        let body = &self.body[..self.body.len().min(MAX_AUTH_BODY as usize)];
        enc.put_opaque(body, MAX_AUTH_BODY).expect("body is cut to the bound above");
    }

    pub(crate) fn decode(dec: &mut Decoder) -> courier_xdr::Result<Self> {
        let flavor = dec.get_u32()?;
        let body = dec.get_opaque(MAX_AUTH_BODY)?;
        Ok(OpaqueAuth { flavor, body })
    }
}

/// The body of an AUTH_SYS credential (`authsys_parms`, RFC 5531 §A.1).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AuthSys {
    /// An arbitrary id the caller's machine generates, often a time.
    pub stamp: u32,
    /// The caller's machine name, at most 255 bytes.
    pub machine_name: String,
    /// The caller's effective user id.
    pub uid: u32,
    /// The caller's effective group id.
    pub gid: u32,
    /// Supplementary groups, at most 16.
    pub gids: Vec<u32>,
}

impl AuthSys {
    /// Encodes these parameters as an AUTH_SYS credential. Fails if the machine name or
    /// the group list is longer than the protocol allows.
    pub fn to_opaque_auth(&self) -> Result<OpaqueAuth, courier_xdr::Error> {
        let mut buf = BytesMut::new();
        let mut enc = Encoder::new(&mut buf);
        enc.put_u32(self.stamp);
        enc.put_string(&self.machine_name, MAX_MACHINE_NAME)?;
        enc.put_u32(self.uid);
        enc.put_u32(self.gid);
        enc.put_array_len(self.gids.len(), MAX_GIDS)?;
        for gid in &self.gids {
            enc.put_u32(*gid);
        }
        Ok(OpaqueAuth { flavor: flavor::AUTH_SYS, body: buf.freeze() })
    }

    /// Decodes an AUTH_SYS credential body; the whole body must be used.
    pub fn from_body(body: &Bytes) -> Result<Self, courier_xdr::Error> {
        let mut dec = Decoder::new(body.clone());
        let stamp = dec.get_u32()?;
        let machine_name = dec.get_string(MAX_MACHINE_NAME)?;
        let uid = dec.get_u32()?;
        let gid = dec.get_u32()?;
        let n = dec.get_array_len(MAX_GIDS)?;
        let gids = (0..n).map(|_| dec.get_u32()).collect::<Result<_, _>>()?;
        dec.finish()?;
        Ok(AuthSys { stamp, machine_name, uid, gid, gids })
    }
}

/// A call's credential, as a server sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Credentials {
    /// AUTH_NONE.
    None,
    /// AUTH_SYS, decoded.
    Sys(AuthSys),
    /// Any other flavor, undecoded.
    Other(OpaqueAuth),
}

impl Credentials {
    /// Interprets a credential; an AUTH_SYS body that does not decode is an error
    /// (the server answers AUTH_ERROR / AUTH_BADCRED).
    pub fn from_opaque(cred: &OpaqueAuth) -> Result<Self, courier_xdr::Error> {
        Ok(match cred.flavor {
            flavor::AUTH_NONE => Credentials::None,
            flavor::AUTH_SYS => Credentials::Sys(AuthSys::from_body(&cred.body)?),
            _ => Credentials::Other(cred.clone()),
        })
    }

    /// The flavor number.
    pub fn flavor(&self) -> u32 {
        match self {
            Credentials::None => flavor::AUTH_NONE,
            Credentials::Sys(_) => flavor::AUTH_SYS,
            Credentials::Other(o) => o.flavor,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_sys_round_trips_and_rejects_oversized_fields() {
        let sys = AuthSys { stamp: 7, machine_name: "host".into(), uid: 1000, gid: 100, gids: vec![1, 2] };
        let cred = sys.to_opaque_auth().unwrap();
        assert_eq!(cred.flavor, flavor::AUTH_SYS);
        assert_eq!(AuthSys::from_body(&cred.body).unwrap(), sys);
        let too_many = AuthSys { gids: vec![0; 17], ..sys.clone() };
        assert!(too_many.to_opaque_auth().is_err());
        let mut body = cred.body.to_vec();
        body.push(0);
        assert!(AuthSys::from_body(&Bytes::from(body)).is_err(), "trailing bytes accepted");
    }
}
