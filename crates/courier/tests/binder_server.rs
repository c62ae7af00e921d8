//! courier's own binder (`binder::Binder`), served on ephemeral loopback ports and used
//! through courier's binder client: the rpcbind and port mapper procedures agree with
//! each other and with the rules of `binder::table`.

use courier::binder::{Binder, BinderClient, Mapping, Rpcb, Table};
use courier::rpc::{ClientConfig, Server};
use courier::transport::Endpoint;

async fn binder_on(scheme: &str) -> (courier::rpc::Listening, BinderClient) {
    let server = Binder::new(Table::default()).serve(Server::builder()).build();
    let listening = server.listen(&format!("{scheme}://127.0.0.1:0").parse().unwrap()).await.unwrap();
    let client = BinderClient::connect(listening.endpoint(), ClientConfig::default()).await.unwrap();
    (listening, client)
}

#[tokio::test]
async fn registrations_are_kept_and_answered_over_both_protocols() {
    for scheme in ["tcp", "udp"] {
        let (_listening, binder) = binder_on(scheme).await;
        let served: Endpoint = "udp://127.0.0.1:2049".parse().unwrap();
        assert!(binder.register(0x2000_0009, 3, &served).await.unwrap());
        assert!(binder.register(0x2000_0009, 3, &"tcp://127.0.0.1:2050".parse().unwrap()).await.unwrap());
        let entries = binder.dump().await.unwrap();
        assert_eq!(entries.len(), 2);
        assert!(entries.iter().all(|e| e.owner == "unknown"), "the binder decides the owner: {entries:?}");
        assert_eq!(binder.getaddr(0x2000_0009, 3, "udp").await.unwrap().as_deref(), Some("127.0.0.1.8.1"));
        assert_eq!(
            binder.getaddr(0x2000_0009, 7, "tcp").await.unwrap().as_deref(),
            Some("127.0.0.1.8.2"),
            "another version"
        );
        assert_eq!(binder.getaddr(0x2000_0010, 1, "tcp").await.unwrap(), None);
        assert_eq!(binder.pmap_getport(0x2000_0009, 3, courier::binder::Transport::Udp).await.unwrap(), 2049);
        let mappings = binder.pmap_dump().await.unwrap();
        assert!(mappings.contains(&Mapping { prog: 0x2000_0009, vers: 3, prot: 17, port: 2049 }), "{mappings:?}");
        // A conflicting registration is refused; the port mapper's view agrees.
        let conflict = Rpcb {
            prog: 0x2000_0009,
            vers: 3,
            netid: "udp".into(),
            addr: "127.0.0.1.9.9".into(),
            owner: String::new(),
        };
        assert!(!binder.set(&conflict).await.unwrap());
        assert!(binder.pmap_set(&Mapping { prog: 0x2000_0011, vers: 1, prot: 6, port: 4000 }).await.unwrap());
        assert_eq!(
            binder.getaddr(0x2000_0011, 1, "tcp").await.unwrap().as_deref(),
            Some("127.0.0.1.15.160"),
            "0.0.0.0 becomes reachable"
        );
        assert!(binder.unregister(0x2000_0009, 3, &served).await.unwrap());
        assert_eq!(binder.getaddr(0x2000_0009, 3, "udp").await.unwrap(), None);
        let time: u32 = binder.rpc().call(100_000, 3, 6, &()).await.unwrap();
        assert!(time > 1_700_000_000);
    }
}
