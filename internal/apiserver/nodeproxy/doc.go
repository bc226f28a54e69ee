// Package nodeproxy is how the apiserver reaches the HTTPS API of node
// agents (the kubelet API shape: /containerLogs, /exec, /attach): it finds a
// node's address, forwards requests there with the apiserver's client
// certificate, streams responses as they arrive and splices upgraded
// (WebSocket or SPDY) connections.
package nodeproxy
