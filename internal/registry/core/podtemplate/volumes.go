package podtemplate

import (
	"reflect"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// volumeSourceOrder is the order in which upstream inspects volume sources;
// the first one set is validated, later ones are reported as extra types.
var volumeSourceOrder = []string{
	"emptyDir", "hostPath", "gitRepo", "gcePersistentDisk", "awsElasticBlockStore", "secret", "nfs", "iscsi",
	"glusterfs", "flocker", "persistentVolumeClaim", "rbd", "flexVolume", "cinder", "cephfs", "quobyte",
	"downwardAPI", "fc", "azureFile", "vsphereVolume", "photonPersistentDisk", "portworxVolume", "azureDisk",
	"storageos", "projected", "scaleIO", "configMap", "csi", "ephemeral", "image",
}

// setVolumeSources returns the JSON names of the sources set in src, in
// upstream's inspection order.
func setVolumeSources(src *corev1.VolumeSource) []string {
	v := reflect.ValueOf(src).Elem()
	t := v.Type()
	set := map[string]bool{}
	for i := 0; i < t.NumField(); i++ {
		if v.Field(i).Kind() == reflect.Pointer && !v.Field(i).IsNil() {
			name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
			set[name] = true
		}
	}
	var out []string
	for _, name := range volumeSourceOrder {
		if set[name] {
			out = append(out, name)
			delete(set, name)
		}
	}
	for name := range set { // sources newer than this list
		out = append(out, name)
	}
	return out
}

func countVolumeSources(src *corev1.VolumeSource) int {
	return len(setVolumeSources(src))
}

// validateVolumes checks volume names and sources and returns the names
// of the valid volumes, for volume mounts to refer to.
func validateVolumes(volumes []corev1.Volume, fldPath *field.Path) (sets.Set[string], field.ErrorList) {
	var allErrs field.ErrorList
	names := sets.New[string]()
	for i := range volumes {
		vol := &volumes[i]
		idxPath := fldPath.Index(i)
		namePath := idxPath.Child("name")
		errs := validateVolumeSource(&vol.VolumeSource, idxPath)
		if vol.Name == "" {
			errs = append(errs, field.Required(namePath, ""))
		} else {
			errs = append(errs, validateDNS1123Label(vol.Name, namePath)...)
		}
		if names.Has(vol.Name) {
			errs = append(errs, field.Duplicate(namePath, vol.Name))
		}
		if len(errs) == 0 {
			names.Insert(vol.Name)
		}
		allErrs = append(allErrs, errs...)
	}
	return names, allErrs
}

func validateVolumeSource(src *corev1.VolumeSource, fldPath *field.Path) field.ErrorList {
	kinds := setVolumeSources(src)
	if len(kinds) == 0 {
		return field.ErrorList{field.Required(fldPath, "must specify a volume type")}
	}
	var allErrs field.ErrorList
	for _, extra := range kinds[1:] {
		allErrs = append(allErrs, field.Forbidden(fldPath.Child(extra), "may not specify more than 1 volume type"))
	}
	p := fldPath.Child(kinds[0])
	switch kinds[0] {
	case "hostPath":
		if src.HostPath.Path == "" {
			allErrs = append(allErrs, field.Required(p.Child("path"), ""))
		}
		allErrs = append(allErrs, validateHostPathType(src.HostPath.Type, p.Child("type"))...)
	case "secret":
		if src.Secret.SecretName == "" {
			allErrs = append(allErrs, field.Required(p.Child("secretName"), ""))
		}
		allErrs = append(allErrs, validateKeyToPaths(src.Secret.Items, p.Child("items"))...)
	case "configMap":
		if src.ConfigMap.Name == "" {
			allErrs = append(allErrs, field.Required(p.Child("name"), ""))
		}
		allErrs = append(allErrs, validateKeyToPaths(src.ConfigMap.Items, p.Child("items"))...)
	case "persistentVolumeClaim":
		if src.PersistentVolumeClaim.ClaimName == "" {
			allErrs = append(allErrs, field.Required(p.Child("claimName"), ""))
		}
	case "downwardAPI":
		for i, item := range src.DownwardAPI.Items {
			if item.Path == "" {
				allErrs = append(allErrs, field.Required(p.Child("items").Index(i).Child("path"), ""))
			}
		}
	case "emptyDir":
		if m := src.EmptyDir.Medium; m != corev1.StorageMediumDefault && m != corev1.StorageMediumMemory &&
			m != corev1.StorageMediumHugePages && !strings.HasPrefix(string(m), string(corev1.StorageMediumHugePagesPrefix)) {
			allErrs = append(allErrs, field.NotSupported(p.Child("medium"), m,
				[]corev1.StorageMedium{corev1.StorageMediumDefault, corev1.StorageMediumMemory, corev1.StorageMediumHugePages}))
		}
		if sl := src.EmptyDir.SizeLimit; sl != nil && sl.Sign() < 0 {
			allErrs = append(allErrs, field.Invalid(p.Child("sizeLimit"), sl.String(), "must be greater than or equal to 0"))
		}
	}
	return allErrs
}

var supportedHostPathTypes = []corev1.HostPathType{
	corev1.HostPathUnset, corev1.HostPathDirectoryOrCreate, corev1.HostPathDirectory, corev1.HostPathFileOrCreate,
	corev1.HostPathFile, corev1.HostPathSocket, corev1.HostPathCharDev, corev1.HostPathBlockDev,
}

func validateHostPathType(t *corev1.HostPathType, fldPath *field.Path) field.ErrorList {
	if t == nil {
		return nil
	}
	for _, ok := range supportedHostPathTypes {
		if *t == ok {
			return nil
		}
	}
	return field.ErrorList{field.NotSupported(fldPath, *t, supportedHostPathTypes)}
}

func validateKeyToPaths(items []corev1.KeyToPath, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for i, item := range items {
		idxPath := fldPath.Index(i)
		if item.Key == "" {
			allErrs = append(allErrs, field.Required(idxPath.Child("key"), ""))
		}
		if item.Path == "" {
			allErrs = append(allErrs, field.Required(idxPath.Child("path"), ""))
		}
	}
	return allErrs
}

// validateVolumeMounts checks the mounts of one container against the
// pod's volumes.
func validateVolumeMounts(mounts []corev1.VolumeMount, volumes sets.Set[string], fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	mountPoints := sets.New[string]()
	for i, m := range mounts {
		idxPath := fldPath.Index(i)
		if m.Name == "" {
			allErrs = append(allErrs, field.Required(idxPath.Child("name"), ""))
		}
		if !volumes.Has(m.Name) {
			allErrs = append(allErrs, field.NotFound(idxPath.Child("name"), m.Name))
		}
		if m.MountPath == "" {
			allErrs = append(allErrs, field.Required(idxPath.Child("mountPath"), ""))
		}
		if mountPoints.Has(m.MountPath) {
			allErrs = append(allErrs, field.Invalid(idxPath.Child("mountPath"), m.MountPath, "must be unique"))
		}
		mountPoints.Insert(m.MountPath)
		if m.SubPath != "" && m.SubPathExpr != "" {
			allErrs = append(allErrs, field.Invalid(idxPath.Child("subPathExpr"), m.SubPathExpr, "subPathExpr and subPath are mutually exclusive"))
		}
	}
	return allErrs
}
