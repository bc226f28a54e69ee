// Package namespace finishes the deletion of namespaces, as the upstream
// namespace controller does: for a namespace with a deletionTimestamp it
// deletes every namespaced resource in it (a deletecollection per served
// resource, through the metadata client), keeps the deletion conditions in
// status, waits until the content is really gone (terminating pods take
// their grace period), then removes the "kubernetes" finalizer through the
// finalize subresource so that the apiserver removes the namespace.
package namespace
