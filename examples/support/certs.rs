//! A throwaway certificate authority for the TLS examples and tests: a CA, a server
//! certificate for `localhost`, a client certificate, and an unrelated CA, written as PEM files.

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use std::path::{Path, PathBuf};

/// Paths of the generated PEM files.
#[derive(Debug, Clone)]
pub struct Pki {
    pub ca: PathBuf,
    pub server_chain: PathBuf,
    pub server_key: PathBuf,
    pub client_chain: PathBuf,
    pub client_key: PathBuf,
    /// A CA that signed nothing here: trusting only it must fail.
    pub other_ca: PathBuf,
}

fn ca(name: &str) -> (CertificateParams, KeyPair, String) {
    let key = KeyPair::generate().expect("generate a key");
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    let pem = params.self_signed(&key).expect("self-sign the CA").pem();
    (params, key, pem)
}

/// Writes a fresh PKI into `dir`.
pub fn generate(dir: &Path) -> Pki {
    std::fs::create_dir_all(dir).expect("create the certificate directory");
    let (ca_params, ca_key, ca_pem) = ca("rycos test CA");
    let issuer = Issuer::new(ca_params, ca_key);
    let sign = |names: Vec<String>, cn: &str| {
        let key = KeyPair::generate().expect("generate a key");
        let mut params = CertificateParams::new(names).expect("parameters");
        params.distinguished_name.push(DnType::CommonName, cn);
        let cert = params.signed_by(&key, &issuer).expect("sign");
        (cert.pem(), key.serialize_pem())
    };
    let (server_pem, server_key) = sign(vec!["localhost".into()], "localhost");
    let (client_pem, client_key) = sign(vec!["client".into()], "rycos test client");
    let (_, _, other_pem) = ca("some other CA");
    let write = |name: &str, content: &str| {
        let path = dir.join(name);
        std::fs::write(&path, content).expect("write a PEM file");
        path
    };
    Pki {
        ca: write("ca.pem", &ca_pem),
        server_chain: write("server-chain.pem", &format!("{server_pem}{ca_pem}")),
        server_key: write("server-key.pem", &server_key),
        client_chain: write("client-chain.pem", &format!("{client_pem}{ca_pem}")),
        client_key: write("client-key.pem", &client_key),
        other_ca: write("other-ca.pem", &other_pem),
    }
}
