// Package endpoints is the endpoints controller: for every Service with a
// selector it maintains the core/v1 Endpoints object of the same name from
// the pods the selector matches, as the upstream endpoint-controller does.
// Ready pods become addresses, the others notReadyAddresses (or addresses
// when the Service publishes not-ready addresses); a pod whose subdomain
// names the Service carries its hostname, which is what cluster DNS serves
// as <hostname>.<subdomain>. EndpointSlices are not maintained.
package endpoints
