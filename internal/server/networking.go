package server

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/klog/v2"

	"github.com/batchlet/batchlet/internal/dns"
	"github.com/batchlet/batchlet/internal/proxy"
)

// clusterDNSIP is the kube-dns Service's address in a service CIDR: the
// tenth address, as clusters conventionally use.
func clusterDNSIP(serviceCIDR string) (net.IP, error) {
	_, ipnet, err := net.ParseCIDR(serviceCIDR)
	if err != nil {
		return nil, fmt.Errorf("service CIDR %q: %w", serviceCIDR, err)
	}
	ip := ipnet.IP.To4()
	if ip == nil {
		return nil, fmt.Errorf("service CIDR %q: only IPv4 is supported", serviceCIDR)
	}
	out := make(net.IP, 4)
	copy(out, ip)
	out[3] += 10
	return out, nil
}

// startNetworking runs cluster DNS and (unless disabled) the Service
// proxy, and publishes DNS as Service kube-system/kube-dns the way
// clusters do. The Endpoints controller runs with the controller manager.
func (s *Server) startNetworking(ctx context.Context, client kubernetes.Interface, factory informers.SharedInformerFactory) error {
	dnsServer, err := dns.New(dns.Config{ListenAddress: "127.0.0.1:0"}, client, factory)
	if err != nil {
		return fmt.Errorf("cluster DNS: %w", err)
	}
	dnsEndpoints, err := clusterDNSEndpoints(dnsServer.Addr())
	if err != nil {
		return fmt.Errorf("cluster DNS: %w", err)
	}
	var svcProxy *proxy.Proxy
	if !s.cfg.DisableServiceProxy {
		local := map[string]*corev1.Endpoints{dnsEndpoints.Namespace + "/" + dnsEndpoints.Name: dnsEndpoints}
		if svcProxy, err = proxy.New(proxy.Config{LocalEndpoints: local}, client, factory); err != nil {
			return fmt.Errorf("service proxy: %w", err)
		}
	}
	s.goRun(func() {
		if err := dnsServer.Run(ctx); err != nil && ctx.Err() == nil {
			s.failed <- fmt.Errorf("cluster DNS: %w", err)
		}
	})
	if svcProxy != nil {
		s.goRun(func() {
			if err := svcProxy.Run(ctx); err != nil && ctx.Err() == nil {
				s.failed <- fmt.Errorf("service proxy: %w", err)
			}
		})
	}
	s.goRun(func() {
		if err := publishDNS(ctx, client, s.clusterDNS, dnsEndpoints); err != nil && ctx.Err() == nil {
			klog.ErrorS(err, "publishing cluster DNS as kube-system/kube-dns")
		}
	})
	return nil
}

// clusterDNSLabels are kube-dns's labels, as clusters set them.
var clusterDNSLabels = map[string]string{"k8s-app": "kube-dns", "kubernetes.io/name": "CoreDNS"}

// clusterDNSEndpoints are kube-system/kube-dns's Endpoints for the DNS
// server listening at dnsAddr.
func clusterDNSEndpoints(dnsAddr string) (*corev1.Endpoints, error) {
	host, portStr, err := net.SplitHostPort(dnsAddr)
	if err != nil {
		return nil, fmt.Errorf("DNS address %q: %w", dnsAddr, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, fmt.Errorf("DNS address %q: %w", dnsAddr, err)
	}
	return &corev1.Endpoints{
		ObjectMeta: metav1.ObjectMeta{Name: "kube-dns", Namespace: metav1.NamespaceSystem, Labels: clusterDNSLabels},
		Subsets: []corev1.EndpointSubset{{
			Addresses: []corev1.EndpointAddress{{IP: host}},
			Ports: []corev1.EndpointPort{
				{Name: "dns", Port: int32(port), Protocol: corev1.ProtocolUDP},
				{Name: "dns-tcp", Port: int32(port), Protocol: corev1.ProtocolTCP},
			},
		}},
	}, nil
}

// publishDNS creates (or refreshes) Service kube-system/kube-dns at the
// cluster DNS IP and its Endpoints, epts: this server's DNS address. Each
// server's proxy forwards the Service to its own DNS server whatever the
// Endpoints say (proxy.Config.LocalEndpoints).
func publishDNS(ctx context.Context, client kubernetes.Interface, clusterIP net.IP, epts *corev1.Endpoints) error {
	port := epts.Subsets[0].Ports[0].Port
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "kube-dns", Namespace: metav1.NamespaceSystem, Labels: clusterDNSLabels},
		Spec: corev1.ServiceSpec{
			ClusterIP: clusterIP.String(),
			Ports: []corev1.ServicePort{
				{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP, TargetPort: intstr.FromInt32(port)},
				{Name: "dns-tcp", Port: 53, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(port)},
			},
		},
	}
	return wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		if _, err := client.CoreV1().Services(svc.Namespace).Create(ctx, svc, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			klog.V(2).InfoS("creating kube-dns service", "err", err)
			return false, nil
		}
		current, err := client.CoreV1().Endpoints(epts.Namespace).Get(ctx, epts.Name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			_, err = client.CoreV1().Endpoints(epts.Namespace).Create(ctx, epts, metav1.CreateOptions{})
		case err == nil:
			// The DNS port changes on every start.
			current.Subsets = epts.Subsets
			_, err = client.CoreV1().Endpoints(epts.Namespace).Update(ctx, current, metav1.UpdateOptions{})
		}
		if err != nil {
			klog.V(2).InfoS("publishing kube-dns endpoints", "err", err)
			return false, nil
		}
		return true, nil
	})
}
