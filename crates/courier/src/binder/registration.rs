//! A server's registrations with the machine's binder: every program version it serves,
//! at every address it listens on, announced when it starts and withdrawn when it stops.

use std::net::SocketAddr;

use super::client::{BinderClient, LocateError};
use crate::rpc::ClientConfig;
use crate::transport::Endpoint;

/// What a server registered with a binder, to [`withdraw`](Registration::withdraw) when
/// it stops.
#[derive(Debug)]
pub struct Registration {
    binder: BinderClient,
    registered: Vec<(u32, u32, Endpoint)>,
    refused: Vec<(u32, u32, Endpoint)>,
}

impl Registration {
    /// Registers each (program, version) of `programs` (a server's
    /// [`registrations`](crate::rpc::Server::registrations), say) at each endpoint with the binder at `binder` (usually 127.0.0.1:111; over TCP:
    /// RPCBPROC_SET v4, then v3, then PMAPPROC_SET). Fails only when the binder cannot be
    /// reached or does not answer; entries it refuses are listed in
    /// [`Registration::refused`].
    pub async fn announce(
        programs: &[(u32, u32)],
        endpoints: &[Endpoint],
        binder: SocketAddr,
    ) -> Result<Registration, LocateError> {
        let binder_endpoint = Endpoint::Tcp(binder);
        let binder = BinderClient::connect(&binder_endpoint, ClientConfig::default())
            .await
            .map_err(|source| LocateError::Connect { endpoint: binder_endpoint, source })?;
        let mut registration = Registration { binder, registered: Vec::new(), refused: Vec::new() };
        for endpoint in endpoints {
            for &(prog, vers) in programs {
                let entry = (prog, vers, endpoint.clone());
                if registration.binder.register(prog, vers, endpoint).await? {
                    registration.registered.push(entry);
                } else {
                    registration.refused.push(entry);
                }
            }
        }
        Ok(registration)
    }

    /// The (program, version, endpoint) entries the binder accepted.
    pub fn registered(&self) -> &[(u32, u32, Endpoint)] {
        &self.registered
    }

    /// The entries the binder refused (registered by another owner, say).
    pub fn refused(&self) -> &[(u32, u32, Endpoint)] {
        &self.refused
    }

    /// Removes every registration made; the binder's answer for each is ignored beyond
    /// errors of transport.
    pub async fn withdraw(self) -> Result<(), LocateError> {
        for (prog, vers, endpoint) in &self.registered {
            self.binder.unregister(*prog, *vers, endpoint).await?;
        }
        Ok(())
    }
}
