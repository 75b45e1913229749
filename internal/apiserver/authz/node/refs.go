package node

import (
	"cmp"
	"slices"

	corev1 "k8s.io/api/core/v1"
)

// kind is a kind of object the graph relates to nodes.
type kind uint8

const (
	kindSecret kind = iota + 1
	kindConfigMap
	kindServiceAccount
	kindPVC
	kindPV
)

func (k kind) String() string {
	switch k {
	case kindSecret:
		return "secret"
	case kindConfigMap:
		return "configmap"
	case kindServiceAccount:
		return "serviceaccount"
	case kindPVC:
		return "persistentvolumeclaim"
	case kindPV:
		return "persistentvolume"
	}
	return "unknown"
}

// ref names one object; namespace is "" for PersistentVolumes.
type ref struct {
	kind            kind
	namespace, name string
}

func compareRefs(a, b ref) int {
	return cmp.Or(cmp.Compare(a.kind, b.kind), cmp.Compare(a.namespace, b.namespace), cmp.Compare(a.name, b.name))
}

// podRefs returns the objects pod references, sorted and without
// duplicates: its ServiceAccount, the Secrets and ConfigMaps of its
// volumes (plain and projected), of its containers' env and envFrom (all
// container kinds) and its imagePullSecrets, the Secrets volume plugins
// authenticate with, and its PersistentVolumeClaims (named or of generic
// ephemeral volumes).
func podRefs(pod *corev1.Pod) []ref {
	var out []ref
	add := func(k kind, name string) {
		if name != "" {
			out = append(out, ref{kind: k, namespace: pod.Namespace, name: name})
		}
	}
	secretRef := func(r *corev1.LocalObjectReference) {
		if r != nil {
			add(kindSecret, r.Name)
		}
	}
	add(kindServiceAccount, pod.Spec.ServiceAccountName)
	for _, s := range pod.Spec.ImagePullSecrets {
		add(kindSecret, s.Name)
	}
	for _, c := range allContainers(pod) {
		for _, e := range c.EnvFrom {
			if e.SecretRef != nil {
				add(kindSecret, e.SecretRef.Name)
			}
			if e.ConfigMapRef != nil {
				add(kindConfigMap, e.ConfigMapRef.Name)
			}
		}
		for _, e := range c.Env {
			if e.ValueFrom == nil {
				continue
			}
			if r := e.ValueFrom.SecretKeyRef; r != nil {
				add(kindSecret, r.Name)
			}
			if r := e.ValueFrom.ConfigMapKeyRef; r != nil {
				add(kindConfigMap, r.Name)
			}
		}
	}
	for _, v := range pod.Spec.Volumes {
		src := v.VolumeSource
		switch {
		case src.Secret != nil:
			add(kindSecret, src.Secret.SecretName)
		case src.ConfigMap != nil:
			add(kindConfigMap, src.ConfigMap.Name)
		case src.Projected != nil:
			for _, p := range src.Projected.Sources {
				if p.Secret != nil {
					add(kindSecret, p.Secret.Name)
				}
				if p.ConfigMap != nil {
					add(kindConfigMap, p.ConfigMap.Name)
				}
			}
		case src.PersistentVolumeClaim != nil:
			add(kindPVC, src.PersistentVolumeClaim.ClaimName)
		case src.Ephemeral != nil:
			// A generic ephemeral volume's claim is named after the pod
			// and the volume.
			add(kindPVC, pod.Name+"-"+v.Name)
		case src.AzureFile != nil:
			add(kindSecret, src.AzureFile.SecretName)
		case src.CephFS != nil:
			secretRef(src.CephFS.SecretRef)
		case src.Cinder != nil:
			secretRef(src.Cinder.SecretRef)
		case src.FlexVolume != nil:
			secretRef(src.FlexVolume.SecretRef)
		case src.ISCSI != nil:
			secretRef(src.ISCSI.SecretRef)
		case src.RBD != nil:
			secretRef(src.RBD.SecretRef)
		case src.ScaleIO != nil:
			secretRef(src.ScaleIO.SecretRef)
		case src.StorageOS != nil:
			secretRef(src.StorageOS.SecretRef)
		case src.CSI != nil:
			secretRef(src.CSI.NodePublishSecretRef)
		}
	}
	slices.SortFunc(out, compareRefs)
	return slices.Compact(out)
}

// allContainers lists the init, regular and ephemeral containers of pod.
func allContainers(pod *corev1.Pod) []corev1.Container {
	out := slices.Concat(pod.Spec.InitContainers, pod.Spec.Containers)
	for _, e := range pod.Spec.EphemeralContainers {
		out = append(out, corev1.Container(e.EphemeralContainerCommon))
	}
	return out
}

// pvRefs returns the PersistentVolumeClaim pv is bound to (claimRef) and
// the Secrets its volume plugin authenticates with, which a node mounting
// the volume reads.
func pvRefs(pv *corev1.PersistentVolume) (claim ref, secrets []ref) {
	if c := pv.Spec.ClaimRef; c != nil && c.Name != "" {
		claim = ref{kind: kindPVC, namespace: c.Namespace, name: c.Name}
	}
	add := func(ns, name string) {
		if name != "" {
			secrets = append(secrets, ref{kind: kindSecret, namespace: ns, name: name})
		}
	}
	// A reference without a namespace (older PVs) is in the claim's.
	secretRef := func(r *corev1.SecretReference) {
		if r != nil {
			add(cmp.Or(r.Namespace, claim.namespace), r.Name)
		}
	}
	src := pv.Spec.PersistentVolumeSource
	switch {
	case src.AzureFile != nil:
		ns := claim.namespace
		if src.AzureFile.SecretNamespace != nil && *src.AzureFile.SecretNamespace != "" {
			ns = *src.AzureFile.SecretNamespace
		}
		add(ns, src.AzureFile.SecretName)
	case src.CephFS != nil:
		secretRef(src.CephFS.SecretRef)
	case src.Cinder != nil:
		secretRef(src.Cinder.SecretRef)
	case src.FlexVolume != nil:
		secretRef(src.FlexVolume.SecretRef)
	case src.ISCSI != nil:
		secretRef(src.ISCSI.SecretRef)
	case src.RBD != nil:
		secretRef(src.RBD.SecretRef)
	case src.ScaleIO != nil:
		secretRef(src.ScaleIO.SecretRef)
	case src.StorageOS != nil:
		if r := src.StorageOS.SecretRef; r != nil {
			add(r.Namespace, r.Name)
		}
	case src.CSI != nil:
		for _, r := range []*corev1.SecretReference{src.CSI.NodePublishSecretRef, src.CSI.NodeStageSecretRef,
			src.CSI.NodeExpandSecretRef, src.CSI.ControllerPublishSecretRef, src.CSI.ControllerExpandSecretRef} {
			secretRef(r)
		}
	}
	slices.SortFunc(secrets, compareRefs)
	return claim, slices.Compact(secrets)
}
