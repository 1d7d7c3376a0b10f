//! TLS over [`crate::net::TcpStream`], with rustls 0.23 (the `ring` provider).
//!
//! Certificate chains and keys are read from PEM files by rustls-pki-types. A server may ask
//! for client certificates; both sides may offer ALPN protocols; the client names the server
//! (SNI) and checks its certificate against the roots it is given. The resulting
//! [`TlsStream`] has the same API as a plain stream (`read_exact`, `write_all`, `send_msg`,
//! `recv_msg`, the futures-io traits), and [`TlsStream::shutdown`] sends `close_notify`.
//!
//! ```no_run
//! use rycos::net::{TcpListener, TcpStream};
//! use rycos::tls::{TlsAcceptor, TlsConnector};
//! # async fn demo() -> std::io::Result<()> {
//! let acceptor = TlsAcceptor::builder("server-chain.pem", "server-key.pem").build()?;
//! let listener = TcpListener::bind("127.0.0.1:7443")?;
//! rycos::spawn(async move {
//!     let (tcp, _) = listener.accept().await?;
//!     let mut tls = acceptor.accept(tcp).await?;
//!     let msg = tls.recv_msg().await?;
//!     tls.send_msg(&msg).await?;
//!     tls.shutdown().await
//! });
//! let connector = TlsConnector::builder().root_certificates("ca.pem")?.build()?;
//! let mut tls = connector.connect("localhost", TcpStream::connect("127.0.0.1:7443").await?).await?;
//! tls.send_msg(b"hello").await?;
//! assert_eq!(tls.recv_msg().await?, b"hello");
//! # Ok(()) }
//! ```

use crate::net::{self, TcpStream};
use futures_io::{AsyncRead, AsyncWrite};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use std::fmt;
use std::io;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn invalid(what: &str, path: &Path, e: impl fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("{what} {}: {e}", path.display()))
}

fn tls_error(e: rustls::Error) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, e)
}

/// Reads every certificate of a PEM file.
pub fn load_certificates(path: impl AsRef<Path>) -> io::Result<Vec<CertificateDer<'static>>> {
    let path = path.as_ref();
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| invalid("cannot read certificates from", path, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid("bad certificate in", path, e))?;
    if certs.is_empty() {
        return Err(invalid("no certificate in", path, "the file has no CERTIFICATE block"));
    }
    Ok(certs)
}

/// Reads the private key of a PEM file (PKCS#8, PKCS#1 or SEC1).
pub fn load_private_key(path: impl AsRef<Path>) -> io::Result<PrivateKeyDer<'static>> {
    let path = path.as_ref();
    PrivateKeyDer::from_pem_file(path).map_err(|e| invalid("cannot read a private key from", path, e))
}

fn root_store(certs: Vec<CertificateDer<'static>>) -> io::Result<RootCertStore> {
    let mut roots = RootCertStore::empty();
    for cert in certs {
        roots.add(cert).map_err(tls_error)?;
    }
    Ok(roots)
}

/// Accepts TLS connections (the server side).
#[derive(Clone)]
pub struct TlsAcceptor {
    inner: futures_rustls::TlsAcceptor,
    config: Arc<ServerConfig>,
}

/// Configures a [`TlsAcceptor`].
#[derive(Debug)]
pub struct TlsAcceptorBuilder {
    chain: std::path::PathBuf,
    key: std::path::PathBuf,
    client_roots: Option<std::path::PathBuf>,
    alpn: Vec<Vec<u8>>,
}

impl TlsAcceptor {
    /// A server with the certificate chain and private key in these PEM files.
    pub fn builder(cert_chain: impl AsRef<Path>, private_key: impl AsRef<Path>) -> TlsAcceptorBuilder {
        TlsAcceptorBuilder {
            chain: cert_chain.as_ref().to_owned(),
            key: private_key.as_ref().to_owned(),
            client_roots: None,
            alpn: Vec::new(),
        }
    }

    /// A server with a rustls configuration of your own.
    pub fn from_config(config: Arc<ServerConfig>) -> TlsAcceptor {
        TlsAcceptor { inner: futures_rustls::TlsAcceptor::from(config.clone()), config }
    }

    /// Runs the server side of the handshake on `stream`. Fails (and closes nothing else) on a
    /// peer that sends garbage, vanishes, or presents an unacceptable client certificate.
    pub async fn accept(&self, stream: TcpStream) -> io::Result<TlsStream> {
        let max = stream.max_message_size();
        let tls = self.inner.accept(stream).await?;
        Ok(TlsStream { inner: tls.into(), max_message: max })
    }

    /// The rustls configuration.
    pub fn config(&self) -> &Arc<ServerConfig> {
        &self.config
    }
}

impl TlsAcceptorBuilder {
    /// Requires clients to present a certificate signed by one of the CAs in this PEM file.
    pub fn client_auth(mut self, ca_certificates: impl AsRef<Path>) -> Self {
        self.client_roots = Some(ca_certificates.as_ref().to_owned());
        self
    }

    /// The ALPN protocols offered, in order of preference (e.g. `["h2", "http/1.1"]`).
    pub fn alpn<P: AsRef<[u8]>>(mut self, protocols: impl IntoIterator<Item = P>) -> Self {
        self.alpn = protocols.into_iter().map(|p| p.as_ref().to_vec()).collect();
        self
    }

    /// Reads the files and builds the acceptor.
    pub fn build(self) -> io::Result<TlsAcceptor> {
        let chain = load_certificates(&self.chain)?;
        let key = load_private_key(&self.key)?;
        let builder = ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(tls_error)?;
        let builder = match &self.client_roots {
            None => builder.with_no_client_auth(),
            Some(path) => {
                let roots = Arc::new(root_store(load_certificates(path)?)?);
                let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(roots, provider())
                    .build()
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
                builder.with_client_cert_verifier(verifier)
            }
        };
        let mut config = builder.with_single_cert(chain, key).map_err(tls_error)?;
        config.alpn_protocols = self.alpn;
        Ok(TlsAcceptor::from_config(Arc::new(config)))
    }
}

/// Opens TLS connections (the client side).
#[derive(Clone)]
pub struct TlsConnector {
    inner: futures_rustls::TlsConnector,
    config: Arc<ClientConfig>,
}

/// Configures a [`TlsConnector`].
#[derive(Debug, Default)]
pub struct TlsConnectorBuilder {
    roots: Vec<CertificateDer<'static>>,
    client_cert: Option<(std::path::PathBuf, std::path::PathBuf)>,
    alpn: Vec<Vec<u8>>,
}

impl TlsConnector {
    /// A client; add the CA certificates it trusts with
    /// [`root_certificates`](TlsConnectorBuilder::root_certificates).
    pub fn builder() -> TlsConnectorBuilder {
        TlsConnectorBuilder::default()
    }

    /// A client with a rustls configuration of your own.
    pub fn from_config(config: Arc<ClientConfig>) -> TlsConnector {
        TlsConnector { inner: futures_rustls::TlsConnector::from(config.clone()), config }
    }

    /// Runs the client side of the handshake with the server called `server_name` (sent as
    /// SNI, and checked against its certificate).
    pub async fn connect(&self, server_name: &str, stream: TcpStream) -> io::Result<TlsStream> {
        let name = ServerName::try_from(server_name.to_owned()).map_err(|e| {
            io::Error::new(io::ErrorKind::InvalidInput, format!("bad server name {server_name:?}: {e}"))
        })?;
        let max = stream.max_message_size();
        let tls = self.inner.connect(name, stream).await?;
        Ok(TlsStream { inner: tls.into(), max_message: max })
    }

    /// The rustls configuration.
    pub fn config(&self) -> &Arc<ClientConfig> {
        &self.config
    }
}

impl TlsConnectorBuilder {
    /// Trusts the CA certificates in this PEM file.
    pub fn root_certificates(mut self, path: impl AsRef<Path>) -> io::Result<Self> {
        self.roots.extend(load_certificates(path)?);
        Ok(self)
    }

    /// Presents this certificate chain and key when the server asks for one.
    pub fn client_certificate(mut self, cert_chain: impl AsRef<Path>, private_key: impl AsRef<Path>) -> Self {
        self.client_cert = Some((cert_chain.as_ref().to_owned(), private_key.as_ref().to_owned()));
        self
    }

    /// The ALPN protocols asked for, in order of preference.
    pub fn alpn<P: AsRef<[u8]>>(mut self, protocols: impl IntoIterator<Item = P>) -> Self {
        self.alpn = protocols.into_iter().map(|p| p.as_ref().to_vec()).collect();
        self
    }

    /// Builds the connector.
    pub fn build(self) -> io::Result<TlsConnector> {
        if self.roots.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a TLS client needs at least one trusted root certificate (root_certificates)",
            ));
        }
        let builder = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(tls_error)?
            .with_root_certificates(root_store(self.roots)?);
        let mut config = match &self.client_cert {
            None => builder.with_no_client_auth(),
            Some((chain, key)) => builder
                .with_client_auth_cert(load_certificates(chain)?, load_private_key(key)?)
                .map_err(tls_error)?,
        };
        config.alpn_protocols = self.alpn;
        Ok(TlsConnector::from_config(Arc::new(config)))
    }
}

/// A TLS connection, client or server side.
pub struct TlsStream {
    inner: futures_rustls::TlsStream<TcpStream>,
    max_message: usize,
}

impl TlsStream {
    /// Reads some decrypted bytes; 0 means the peer closed the connection (after
    /// `close_notify`, or abruptly).
    pub async fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        std::future::poll_fn(|cx| Pin::new(&mut *self).poll_read(cx, buf)).await
    }

    /// Writes some bytes.
    pub async fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        std::future::poll_fn(|cx| Pin::new(&mut *self).poll_write(cx, buf)).await
    }

    /// Reads exactly `buf.len()` bytes.
    pub async fn read_exact(&mut self, buf: &mut [u8]) -> io::Result<()> {
        net::read_exact(self, buf).await
    }

    /// Writes all of `buf` and flushes it to the socket.
    pub async fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        net::write_all(self, buf).await?;
        self.flush().await
    }

    /// Sends one length-prefixed message (see [`crate::net::Stream::send_msg`]).
    pub async fn send_msg(&mut self, msg: &[u8]) -> io::Result<()> {
        net::send_msg(self, msg).await?;
        self.flush().await
    }

    /// Receives one message, refusing lengths above the limit before allocating.
    pub async fn recv_msg(&mut self) -> io::Result<Vec<u8>> {
        let max = self.max_message;
        net::recv_msg(self, max).await
    }

    /// Sets the largest message [`recv_msg`](TlsStream::recv_msg) accepts.
    pub fn set_max_message_size(&mut self, bytes: usize) {
        self.max_message = bytes;
    }

    /// Flushes buffered TLS records to the socket.
    pub async fn flush(&mut self) -> io::Result<()> {
        std::future::poll_fn(|cx| Pin::new(&mut *self).poll_flush(cx)).await
    }

    /// Sends `close_notify` and shuts down the writing side of the socket.
    pub async fn shutdown(&mut self) -> io::Result<()> {
        std::future::poll_fn(|cx| Pin::new(&mut *self).poll_close(cx)).await?;
        match self.tcp().shutdown(std::net::Shutdown::Write) {
            Err(e) if e.kind() != io::ErrorKind::NotConnected => Err(e),
            _ => Ok(()),
        }
    }

    /// The TCP connection underneath.
    pub fn tcp(&self) -> &TcpStream {
        self.inner.get_ref().0
    }

    /// The protocol agreed by ALPN, if any.
    pub fn alpn_protocol(&self) -> Option<&[u8]> {
        self.inner.get_ref().1.alpn_protocol()
    }

    /// The certificate chain the peer presented, if it did.
    pub fn peer_certificates(&self) -> Option<&[CertificateDer<'static>]> {
        self.inner.get_ref().1.peer_certificates()
    }

    /// On the server side, the server name the client asked for (SNI).
    pub fn server_name(&self) -> Option<&str> {
        match &self.inner {
            futures_rustls::TlsStream::Server(s) => s.get_ref().1.server_name(),
            futures_rustls::TlsStream::Client(_) => None,
        }
    }
}

impl AsyncRead for TlsStream {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for TlsStream {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_close(cx)
    }
}

impl fmt::Debug for TlsStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsStream")
            .field("peer", &self.tcp().peer_addr().ok())
            .field("alpn", &self.alpn_protocol().map(String::from_utf8_lossy))
            .finish()
    }
}

impl fmt::Debug for TlsAcceptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsAcceptor").finish_non_exhaustive()
    }
}

impl fmt::Debug for TlsConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsConnector").finish_non_exhaustive()
    }
}
