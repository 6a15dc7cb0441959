"""Kubernetes protobuf schema table, used by :mod:`minik.api.protobuf`.

GENERATED - do not edit by hand.  Derived from the Go struct tags of k8s.io/api and
k8s.io/apimachinery as compiled into kubectl v1.37.1 (client-go 1.37): each tag
`protobuf:"<wire>,<number>,..."` gives the field number of upstream's generated.proto,
`json:"<name>,omitempty"` the JSON name; the Go field type tells pointer/slice/map.
A one-off script (not kept in the repo) read them from the binary's Go runtime type
descriptors, which keep every struct field's name, tag and type.
Those tags are what go-to-protobuf generates upstream's generated.proto files from;
the numbers were spot-checked against kubernetes/kubernetes
staging/src/k8s.io/api/core/v1/generated.proto (1.34-era, which 1.37 only extends).
Groups: core/v1, apps/v1, batch/v1, autoscaling/v1+v2, coordination.k8s.io/v1,
discovery.k8s.io/v1, events.k8s.io/v1, policy/v1, networking.k8s.io/v1,
rbac.authorization.k8s.io/v1, scheduling.k8s.io/v1, authentication.k8s.io/v1,
authorization.k8s.io/v1, and the meta.k8s.io/v1 option kinds.

Format of SCHEMA: a line "message <name>" opens a message; each following line is
"<field number> <json name> <type> [flags]".  <type> is a scalar (string, bool, int, uint,
double, float, bytes), a special type (Time, MicroTime, Duration, Quantity, IntOrString,
RawExtension, FieldsV1, StringList) or another message.  Flags: r = repeated, m = map<string, type>,
i = inlined into the parent JSON object (Go embedded struct), o = a zero value is
omitted (non-pointer Go field with omitempty: Go always writes it to protobuf),
z = omitted when zero (Go omitzero), n = null when absent (a slice or map without
omitempty: Go's JSON writes null for a nil one, and protobuf cannot tell nil from empty).
"""

# Top-level kinds: "<apiVersion> <kind> <message>".  Kinds of meta.k8s.io/v1 are also
# accepted under any apiVersion (client-go sends DeleteOptions in the resource's group).
KINDS = """
v1 Binding core.v1.Binding
v1 ComponentStatus core.v1.ComponentStatus
v1 ConfigMap core.v1.ConfigMap
v1 Endpoints core.v1.Endpoints
v1 Event core.v1.Event
v1 LimitRange core.v1.LimitRange
v1 Namespace core.v1.Namespace
v1 Node core.v1.Node
v1 NodeProxyOptions core.v1.NodeProxyOptions
v1 PersistentVolume core.v1.PersistentVolume
v1 PersistentVolumeClaim core.v1.PersistentVolumeClaim
v1 Pod core.v1.Pod
v1 PodAttachOptions core.v1.PodAttachOptions
v1 PodExecOptions core.v1.PodExecOptions
v1 PodLogOptions core.v1.PodLogOptions
v1 PodPortForwardOptions core.v1.PodPortForwardOptions
v1 PodProxyOptions core.v1.PodProxyOptions
v1 PodTemplate core.v1.PodTemplate
v1 RangeAllocation core.v1.RangeAllocation
v1 ReplicationController core.v1.ReplicationController
v1 ResourceQuota core.v1.ResourceQuota
v1 Secret core.v1.Secret
v1 SerializedReference core.v1.SerializedReference
v1 Service core.v1.Service
v1 ServiceAccount core.v1.ServiceAccount
v1 ServiceProxyOptions core.v1.ServiceProxyOptions
apps/v1 ControllerRevision apps.v1.ControllerRevision
apps/v1 DaemonSet apps.v1.DaemonSet
apps/v1 Deployment apps.v1.Deployment
apps/v1 ReplicaSet apps.v1.ReplicaSet
apps/v1 StatefulSet apps.v1.StatefulSet
batch/v1 CronJob batch.v1.CronJob
batch/v1 Job batch.v1.Job
autoscaling/v1 HorizontalPodAutoscaler autoscaling.v1.HorizontalPodAutoscaler
autoscaling/v1 Scale autoscaling.v1.Scale
coordination.k8s.io/v1 Lease coordination.v1.Lease
discovery.k8s.io/v1 EndpointSlice discovery.v1.EndpointSlice
events.k8s.io/v1 Event events.v1.Event
policy/v1 Eviction policy.v1.Eviction
policy/v1 PodDisruptionBudget policy.v1.PodDisruptionBudget
networking.k8s.io/v1 IPAddress networking.v1.IPAddress
networking.k8s.io/v1 Ingress networking.v1.Ingress
networking.k8s.io/v1 IngressClass networking.v1.IngressClass
networking.k8s.io/v1 NetworkPolicy networking.v1.NetworkPolicy
networking.k8s.io/v1 ServiceCIDR networking.v1.ServiceCIDR
rbac.authorization.k8s.io/v1 ClusterRole rbac.v1.ClusterRole
rbac.authorization.k8s.io/v1 ClusterRoleBinding rbac.v1.ClusterRoleBinding
rbac.authorization.k8s.io/v1 Role rbac.v1.Role
rbac.authorization.k8s.io/v1 RoleBinding rbac.v1.RoleBinding
scheduling.k8s.io/v1 PriorityClass scheduling.v1.PriorityClass
autoscaling/v2 HorizontalPodAutoscaler autoscaling.v2.HorizontalPodAutoscaler
authentication.k8s.io/v1 SelfSubjectReview authentication.v1.SelfSubjectReview
authentication.k8s.io/v1 TokenRequest authentication.v1.TokenRequest
authentication.k8s.io/v1 TokenReview authentication.v1.TokenReview
authorization.k8s.io/v1 LocalSubjectAccessReview authorization.v1.LocalSubjectAccessReview
authorization.k8s.io/v1 SelfSubjectAccessReview authorization.v1.SelfSubjectAccessReview
authorization.k8s.io/v1 SelfSubjectRulesReview authorization.v1.SelfSubjectRulesReview
authorization.k8s.io/v1 SubjectAccessReview authorization.v1.SubjectAccessReview
meta.k8s.io/v1 DeleteOptions meta.v1.DeleteOptions
meta.k8s.io/v1 CreateOptions meta.v1.CreateOptions
meta.k8s.io/v1 UpdateOptions meta.v1.UpdateOptions
meta.k8s.io/v1 PatchOptions meta.v1.PatchOptions
meta.k8s.io/v1 GetOptions meta.v1.GetOptions
meta.k8s.io/v1 ListOptions meta.v1.ListOptions
meta.k8s.io/v1 Status meta.v1.Status
"""

SCHEMA = """
message apps.v1.ControllerRevision
1 metadata meta.v1.ObjectMeta
2 data RawExtension
3 revision int
message apps.v1.DaemonSet
1 metadata meta.v1.ObjectMeta
2 spec apps.v1.DaemonSetSpec
3 status apps.v1.DaemonSetStatus
message apps.v1.DaemonSetCondition
1 type string
2 status string
3 lastTransitionTime Time
4 reason string o
5 message string o
message apps.v1.DaemonSetSpec
1 selector meta.v1.LabelSelector
2 template core.v1.PodTemplateSpec
3 updateStrategy apps.v1.DaemonSetUpdateStrategy
4 minReadySeconds int o
6 revisionHistoryLimit int
message apps.v1.DaemonSetStatus
1 currentNumberScheduled int
2 numberMisscheduled int
3 desiredNumberScheduled int
4 numberReady int
5 observedGeneration int o
6 updatedNumberScheduled int o
7 numberAvailable int o
8 numberUnavailable int o
9 collisionCount int
10 conditions apps.v1.DaemonSetCondition r
message apps.v1.DaemonSetUpdateStrategy
1 type string o
2 rollingUpdate apps.v1.RollingUpdateDaemonSet
message apps.v1.Deployment
1 metadata meta.v1.ObjectMeta
2 spec apps.v1.DeploymentSpec
3 status apps.v1.DeploymentStatus
message apps.v1.DeploymentCondition
1 type string
2 status string
6 lastUpdateTime Time
7 lastTransitionTime Time
4 reason string o
5 message string o
message apps.v1.DeploymentSpec
1 replicas int
2 selector meta.v1.LabelSelector
3 template core.v1.PodTemplateSpec
4 strategy apps.v1.DeploymentStrategy
5 minReadySeconds int o
6 revisionHistoryLimit int
7 paused bool o
9 progressDeadlineSeconds int
message apps.v1.DeploymentStatus
1 observedGeneration int o
2 replicas int o
3 updatedReplicas int o
7 readyReplicas int o
4 availableReplicas int o
5 unavailableReplicas int o
9 terminatingReplicas int
6 conditions apps.v1.DeploymentCondition r
8 collisionCount int
message apps.v1.DeploymentStrategy
1 type string o
2 rollingUpdate apps.v1.RollingUpdateDeployment
message apps.v1.ReplicaSet
1 metadata meta.v1.ObjectMeta
2 spec apps.v1.ReplicaSetSpec
3 status apps.v1.ReplicaSetStatus
message apps.v1.ReplicaSetCondition
1 type string
2 status string
3 lastTransitionTime Time
4 reason string o
5 message string o
message apps.v1.ReplicaSetSpec
1 replicas int
4 minReadySeconds int o
2 selector meta.v1.LabelSelector
3 template core.v1.PodTemplateSpec
message apps.v1.ReplicaSetStatus
1 replicas int
2 fullyLabeledReplicas int o
4 readyReplicas int o
5 availableReplicas int o
7 terminatingReplicas int
3 observedGeneration int o
6 conditions apps.v1.ReplicaSetCondition r
message apps.v1.RollingUpdateDaemonSet
1 maxUnavailable IntOrString
2 maxSurge IntOrString
message apps.v1.RollingUpdateDeployment
1 maxUnavailable IntOrString
2 maxSurge IntOrString
message apps.v1.RollingUpdateStatefulSetStrategy
1 partition int
2 maxUnavailable IntOrString
message apps.v1.StatefulSet
1 metadata meta.v1.ObjectMeta
2 spec apps.v1.StatefulSetSpec
3 status apps.v1.StatefulSetStatus
message apps.v1.StatefulSetCondition
1 type string
2 status string
3 lastTransitionTime Time
4 reason string o
5 message string o
message apps.v1.StatefulSetOrdinals
1 start int
message apps.v1.StatefulSetPersistentVolumeClaimRetentionPolicy
1 whenDeleted string o
2 whenScaled string o
message apps.v1.StatefulSetSpec
1 replicas int
2 selector meta.v1.LabelSelector
3 template core.v1.PodTemplateSpec
4 volumeClaimTemplates core.v1.PersistentVolumeClaim r
5 serviceName string
6 podManagementPolicy string o
7 updateStrategy apps.v1.StatefulSetUpdateStrategy
8 revisionHistoryLimit int
9 minReadySeconds int o
10 persistentVolumeClaimRetentionPolicy apps.v1.StatefulSetPersistentVolumeClaimRetentionPolicy
11 ordinals apps.v1.StatefulSetOrdinals
message apps.v1.StatefulSetStatus
1 observedGeneration int o
2 replicas int
3 readyReplicas int o
4 currentReplicas int o
5 updatedReplicas int o
6 currentRevision string o
7 updateRevision string o
9 collisionCount int
10 conditions apps.v1.StatefulSetCondition r
11 availableReplicas int
message apps.v1.StatefulSetUpdateStrategy
1 type string o
2 rollingUpdate apps.v1.RollingUpdateStatefulSetStrategy
message authentication.v1.BoundObjectReference
1 kind string o
2 apiVersion string o
3 name string o
4 uid string o
message authentication.v1.SelfSubjectReview
1 metadata meta.v1.ObjectMeta
2 status authentication.v1.SelfSubjectReviewStatus
message authentication.v1.SelfSubjectReviewStatus
1 userInfo authentication.v1.UserInfo
message authentication.v1.TokenRequest
1 metadata meta.v1.ObjectMeta
2 spec authentication.v1.TokenRequestSpec
3 status authentication.v1.TokenRequestStatus
message authentication.v1.TokenRequestSpec
1 audiences string rn
4 expirationSeconds int
3 boundObjectRef authentication.v1.BoundObjectReference
5 attestations StringList m
message authentication.v1.TokenRequestStatus
1 token string
2 expirationTimestamp Time
message authentication.v1.TokenReview
1 metadata meta.v1.ObjectMeta
2 spec authentication.v1.TokenReviewSpec
3 status authentication.v1.TokenReviewStatus
message authentication.v1.TokenReviewSpec
1 token string o
2 audiences string r
message authentication.v1.TokenReviewStatus
1 authenticated bool o
2 user authentication.v1.UserInfo
4 audiences string r
3 error string o
message authentication.v1.UserInfo
1 username string o
2 uid string o
3 groups string r
4 extra StringList m
message authorization.v1.FieldSelectorAttributes
1 rawSelector string o
2 requirements meta.v1.FieldSelectorRequirement r
message authorization.v1.LabelSelectorAttributes
1 rawSelector string o
2 requirements meta.v1.LabelSelectorRequirement r
message authorization.v1.LocalSubjectAccessReview
1 metadata meta.v1.ObjectMeta
2 spec authorization.v1.SubjectAccessReviewSpec
3 status authorization.v1.SubjectAccessReviewStatus
message authorization.v1.NonResourceAttributes
1 path string o
2 verb string o
message authorization.v1.NonResourceRule
1 verbs string rn
2 nonResourceURLs string r
message authorization.v1.ResourceAttributes
1 namespace string o
2 verb string o
3 group string o
4 version string o
5 resource string o
6 subresource string o
7 name string o
8 fieldSelector authorization.v1.FieldSelectorAttributes
9 labelSelector authorization.v1.LabelSelectorAttributes
message authorization.v1.ResourceRule
1 verbs string rn
2 apiGroups string r
3 resources string r
4 resourceNames string r
message authorization.v1.SelfSubjectAccessReview
1 metadata meta.v1.ObjectMeta
2 spec authorization.v1.SelfSubjectAccessReviewSpec
3 status authorization.v1.SubjectAccessReviewStatus
message authorization.v1.SelfSubjectAccessReviewSpec
1 resourceAttributes authorization.v1.ResourceAttributes
2 nonResourceAttributes authorization.v1.NonResourceAttributes
message authorization.v1.SelfSubjectRulesReview
1 metadata meta.v1.ObjectMeta
2 spec authorization.v1.SelfSubjectRulesReviewSpec
3 status authorization.v1.SubjectRulesReviewStatus
message authorization.v1.SelfSubjectRulesReviewSpec
1 namespace string o
message authorization.v1.SubjectAccessReview
1 metadata meta.v1.ObjectMeta
2 spec authorization.v1.SubjectAccessReviewSpec
3 status authorization.v1.SubjectAccessReviewStatus
message authorization.v1.SubjectAccessReviewSpec
1 resourceAttributes authorization.v1.ResourceAttributes
2 nonResourceAttributes authorization.v1.NonResourceAttributes
3 user string o
4 groups string r
5 extra StringList m
6 uid string o
message authorization.v1.SubjectAccessReviewStatus
1 allowed bool
4 denied bool o
2 reason string o
3 evaluationError string o
message authorization.v1.SubjectRulesReviewStatus
1 resourceRules authorization.v1.ResourceRule rn
2 nonResourceRules authorization.v1.NonResourceRule rn
3 incomplete bool
4 evaluationError string o
message autoscaling.v1.CrossVersionObjectReference
1 kind string
2 name string
3 apiVersion string o
message autoscaling.v1.HorizontalPodAutoscaler
1 metadata meta.v1.ObjectMeta
2 spec autoscaling.v1.HorizontalPodAutoscalerSpec
3 status autoscaling.v1.HorizontalPodAutoscalerStatus
message autoscaling.v1.HorizontalPodAutoscalerSpec
1 scaleTargetRef autoscaling.v1.CrossVersionObjectReference
2 minReplicas int
3 maxReplicas int
4 targetCPUUtilizationPercentage int
message autoscaling.v1.HorizontalPodAutoscalerStatus
1 observedGeneration int
2 lastScaleTime Time
3 currentReplicas int
4 desiredReplicas int
5 currentCPUUtilizationPercentage int
message autoscaling.v1.Scale
1 metadata meta.v1.ObjectMeta
2 spec autoscaling.v1.ScaleSpec
3 status autoscaling.v1.ScaleStatus
message autoscaling.v1.ScaleSpec
1 replicas int o
message autoscaling.v1.ScaleStatus
1 replicas int
2 selector string o
message autoscaling.v2.ContainerResourceMetricSource
1 name string
2 target autoscaling.v2.MetricTarget
3 container string
message autoscaling.v2.ContainerResourceMetricStatus
1 name string
2 current autoscaling.v2.MetricValueStatus
3 container string
message autoscaling.v2.CrossVersionObjectReference
1 kind string
2 name string
3 apiVersion string o
message autoscaling.v2.ExternalMetricSource
1 metric autoscaling.v2.MetricIdentifier
2 target autoscaling.v2.MetricTarget
message autoscaling.v2.ExternalMetricStatus
1 metric autoscaling.v2.MetricIdentifier
2 current autoscaling.v2.MetricValueStatus
message autoscaling.v2.HPAScalingPolicy
1 type string
2 value int
3 periodSeconds int
message autoscaling.v2.HPAScalingRules
3 stabilizationWindowSeconds int
1 selectPolicy string
2 policies autoscaling.v2.HPAScalingPolicy r
4 tolerance Quantity
message autoscaling.v2.HorizontalPodAutoscaler
1 metadata meta.v1.ObjectMeta
2 spec autoscaling.v2.HorizontalPodAutoscalerSpec
3 status autoscaling.v2.HorizontalPodAutoscalerStatus
message autoscaling.v2.HorizontalPodAutoscalerBehavior
1 scaleUp autoscaling.v2.HPAScalingRules
2 scaleDown autoscaling.v2.HPAScalingRules
message autoscaling.v2.HorizontalPodAutoscalerCondition
1 type string
2 status string
3 lastTransitionTime Time
4 reason string o
5 message string o
6 observedGeneration int
message autoscaling.v2.HorizontalPodAutoscalerSpec
1 scaleTargetRef autoscaling.v2.CrossVersionObjectReference
2 minReplicas int
3 maxReplicas int
4 metrics autoscaling.v2.MetricSpec r
5 behavior autoscaling.v2.HorizontalPodAutoscalerBehavior
message autoscaling.v2.HorizontalPodAutoscalerStatus
1 observedGeneration int
2 lastScaleTime Time
3 currentReplicas int o
4 desiredReplicas int
5 currentMetrics autoscaling.v2.MetricStatus rn
6 conditions autoscaling.v2.HorizontalPodAutoscalerCondition r
message autoscaling.v2.MetricIdentifier
1 name string
2 selector meta.v1.LabelSelector
message autoscaling.v2.MetricSpec
1 type string
2 object autoscaling.v2.ObjectMetricSource
3 pods autoscaling.v2.PodsMetricSource
4 resource autoscaling.v2.ResourceMetricSource
7 containerResource autoscaling.v2.ContainerResourceMetricSource
5 external autoscaling.v2.ExternalMetricSource
message autoscaling.v2.MetricStatus
1 type string
2 object autoscaling.v2.ObjectMetricStatus
3 pods autoscaling.v2.PodsMetricStatus
4 resource autoscaling.v2.ResourceMetricStatus
7 containerResource autoscaling.v2.ContainerResourceMetricStatus
5 external autoscaling.v2.ExternalMetricStatus
message autoscaling.v2.MetricTarget
1 type string
2 value Quantity
3 averageValue Quantity
4 averageUtilization int
message autoscaling.v2.MetricValueStatus
1 value Quantity
2 averageValue Quantity
3 averageUtilization int
message autoscaling.v2.ObjectMetricSource
1 describedObject autoscaling.v2.CrossVersionObjectReference
2 target autoscaling.v2.MetricTarget
3 metric autoscaling.v2.MetricIdentifier
message autoscaling.v2.ObjectMetricStatus
1 metric autoscaling.v2.MetricIdentifier
2 current autoscaling.v2.MetricValueStatus
3 describedObject autoscaling.v2.CrossVersionObjectReference
message autoscaling.v2.PodsMetricSource
1 metric autoscaling.v2.MetricIdentifier
2 target autoscaling.v2.MetricTarget
message autoscaling.v2.PodsMetricStatus
1 metric autoscaling.v2.MetricIdentifier
2 current autoscaling.v2.MetricValueStatus
message autoscaling.v2.ResourceMetricSource
1 name string
2 target autoscaling.v2.MetricTarget
message autoscaling.v2.ResourceMetricStatus
1 name string
2 current autoscaling.v2.MetricValueStatus
message batch.v1.CronJob
1 metadata meta.v1.ObjectMeta
2 spec batch.v1.CronJobSpec
3 status batch.v1.CronJobStatus
message batch.v1.CronJobSpec
1 schedule string
8 timeZone string
2 startingDeadlineSeconds int
3 concurrencyPolicy string o
4 suspend bool
5 jobTemplate batch.v1.JobTemplateSpec
6 successfulJobsHistoryLimit int
7 failedJobsHistoryLimit int
message batch.v1.CronJobStatus
1 active core.v1.ObjectReference r
4 lastScheduleTime Time
5 lastSuccessfulTime Time
message batch.v1.Job
1 metadata meta.v1.ObjectMeta
2 spec batch.v1.JobSpec
3 status batch.v1.JobStatus
message batch.v1.JobCondition
1 type string
2 status string
3 lastProbeTime Time
4 lastTransitionTime Time
5 reason string o
6 message string o
message batch.v1.JobSchedulingConfiguration
1 schedulingPolicy scheduling.v1alpha3.WorkloadPodGroupSchedulingPolicy
2 schedulingConstraints scheduling.v1alpha3.WorkloadPodGroupSchedulingConstraints
3 disruptionMode scheduling.v1alpha3.WorkloadPodGroupDisruptionMode
4 resourceClaims scheduling.v1alpha3.WorkloadPodGroupResourceClaim r
message batch.v1.JobSpec
1 parallelism int
2 completions int
3 activeDeadlineSeconds int
11 podFailurePolicy batch.v1.PodFailurePolicy
16 successPolicy batch.v1.SuccessPolicy
7 backoffLimit int
12 backoffLimitPerIndex int
13 maxFailedIndexes int
4 selector meta.v1.LabelSelector
5 manualSelector bool
6 template core.v1.PodTemplateSpec
8 ttlSecondsAfterFinished int
9 completionMode string
10 suspend bool
14 podReplacementPolicy string
15 managedBy string
17 scheduling batch.v1.JobSchedulingConfiguration
message batch.v1.JobStatus
1 conditions batch.v1.JobCondition r
2 startTime Time
3 completionTime Time
4 active int o
5 succeeded int o
6 failed int o
11 terminating int
7 completedIndexes string o
10 failedIndexes string
8 uncountedTerminatedPods batch.v1.UncountedTerminatedPods
9 ready int
message batch.v1.JobTemplateSpec
1 metadata meta.v1.ObjectMeta
2 spec batch.v1.JobSpec
message batch.v1.PodFailurePolicy
1 rules batch.v1.PodFailurePolicyRule rn
message batch.v1.PodFailurePolicyOnExitCodesRequirement
1 containerName string
2 operator string
3 values int rn
message batch.v1.PodFailurePolicyOnPodConditionsPattern
1 type string
2 status string
message batch.v1.PodFailurePolicyRule
1 action string
2 onExitCodes batch.v1.PodFailurePolicyOnExitCodesRequirement
3 onPodConditions batch.v1.PodFailurePolicyOnPodConditionsPattern r
message batch.v1.SuccessPolicy
1 rules batch.v1.SuccessPolicyRule rn
message batch.v1.SuccessPolicyRule
1 succeededIndexes string
2 succeededCount int
message batch.v1.UncountedTerminatedPods
1 succeeded string r
2 failed string r
message coordination.v1.Lease
1 metadata meta.v1.ObjectMeta
2 spec coordination.v1.LeaseSpec
message coordination.v1.LeaseSpec
1 holderIdentity string
2 leaseDurationSeconds int
3 acquireTime MicroTime
4 renewTime MicroTime
5 leaseTransitions int
6 strategy string
7 preferredHolder string
message core.v1.AWSElasticBlockStoreVolumeSource
1 volumeID string
2 fsType string o
3 partition int o
4 readOnly bool o
message core.v1.Affinity
1 nodeAffinity core.v1.NodeAffinity
2 podAffinity core.v1.PodAffinity
3 podAntiAffinity core.v1.PodAntiAffinity
message core.v1.AppArmorProfile
1 type string
2 localhostProfile string
message core.v1.AttachedVolume
1 name string
2 devicePath string
message core.v1.AzureDiskVolumeSource
1 diskName string
2 diskURI string
3 cachingMode string
4 fsType string
5 readOnly bool
6 kind string
message core.v1.AzureFilePersistentVolumeSource
1 secretName string
2 shareName string
3 readOnly bool o
4 secretNamespace string
message core.v1.AzureFileVolumeSource
1 secretName string
2 shareName string
3 readOnly bool o
message core.v1.Binding
1 metadata meta.v1.ObjectMeta
2 target core.v1.ObjectReference
message core.v1.CSIPersistentVolumeSource
1 driver string
2 volumeHandle string
3 readOnly bool o
4 fsType string o
5 volumeAttributes string m
6 controllerPublishSecretRef core.v1.SecretReference
7 nodeStageSecretRef core.v1.SecretReference
8 nodePublishSecretRef core.v1.SecretReference
9 controllerExpandSecretRef core.v1.SecretReference
10 nodeExpandSecretRef core.v1.SecretReference
message core.v1.CSIVolumeSource
1 driver string
2 readOnly bool
3 fsType string
4 volumeAttributes string m
5 nodePublishSecretRef core.v1.LocalObjectReference
message core.v1.Capabilities
1 add string r
2 drop string r
message core.v1.CephFSPersistentVolumeSource
1 monitors string rn
2 path string o
3 user string o
4 secretFile string o
5 secretRef core.v1.SecretReference
6 readOnly bool o
message core.v1.CephFSVolumeSource
1 monitors string rn
2 path string o
3 user string o
4 secretFile string o
5 secretRef core.v1.LocalObjectReference
6 readOnly bool o
message core.v1.CinderPersistentVolumeSource
1 volumeID string
2 fsType string o
3 readOnly bool o
4 secretRef core.v1.SecretReference
message core.v1.CinderVolumeSource
1 volumeID string
2 fsType string o
3 readOnly bool o
4 secretRef core.v1.LocalObjectReference
message core.v1.ClientIPConfig
1 timeoutSeconds int
message core.v1.ClusterTrustBundleProjection
1 name string
2 signerName string
3 labelSelector meta.v1.LabelSelector
5 optional bool
4 path string
6 user int
message core.v1.ComponentCondition
1 type string
2 status string
3 message string o
4 error string o
message core.v1.ComponentStatus
1 metadata meta.v1.ObjectMeta
2 conditions core.v1.ComponentCondition r
message core.v1.ConfigMap
1 metadata meta.v1.ObjectMeta
4 immutable bool
2 data string m
3 binaryData bytes m
message core.v1.ConfigMapEnvSource
1 - core.v1.LocalObjectReference i
2 optional bool
message core.v1.ConfigMapKeySelector
1 - core.v1.LocalObjectReference i
2 key string
3 optional bool
message core.v1.ConfigMapNodeConfigSource
1 namespace string
2 name string
3 uid string o
4 resourceVersion string o
5 kubeletConfigKey string
message core.v1.ConfigMapProjection
1 - core.v1.LocalObjectReference i
2 items core.v1.KeyToPath r
4 optional bool
message core.v1.ConfigMapVolumeSource
1 - core.v1.LocalObjectReference i
2 items core.v1.KeyToPath r
3 defaultMode int
4 optional bool
5 defaultUser int
message core.v1.Container
1 name string
2 image string o
3 command string r
4 args string r
5 workingDir string o
6 ports core.v1.ContainerPort r
19 envFrom core.v1.EnvFromSource r
7 env core.v1.EnvVar r
8 resources core.v1.ResourceRequirements
23 resizePolicy core.v1.ContainerResizePolicy r
24 restartPolicy string
25 restartPolicyRules core.v1.ContainerRestartRule r
9 volumeMounts core.v1.VolumeMount r
21 volumeDevices core.v1.VolumeDevice r
10 livenessProbe core.v1.Probe
11 readinessProbe core.v1.Probe
22 startupProbe core.v1.Probe
12 lifecycle core.v1.Lifecycle
13 terminationMessagePath string o
20 terminationMessagePolicy string o
14 imagePullPolicy string o
15 securityContext core.v1.SecurityContext
16 stdin bool o
17 stdinOnce bool o
18 tty bool o
message core.v1.ContainerExtendedResourceRequest
1 containerName string
2 resourceName string
3 requestName string
message core.v1.ContainerImage
1 names string rn
2 sizeBytes int o
message core.v1.ContainerPort
1 name string o
2 hostPort int o
3 containerPort int
4 protocol string o
5 hostIP string o
message core.v1.ContainerResizePolicy
1 resourceName string
2 restartPolicy string
message core.v1.ContainerRestartRule
1 action string o
2 exitCodes core.v1.ContainerRestartRuleOnExitCodes
message core.v1.ContainerRestartRuleOnExitCodes
1 operator string o
2 values int r
message core.v1.ContainerState
1 waiting core.v1.ContainerStateWaiting
2 running core.v1.ContainerStateRunning
3 terminated core.v1.ContainerStateTerminated
message core.v1.ContainerStateRunning
1 startedAt Time
message core.v1.ContainerStateTerminated
1 exitCode int
2 signal int o
3 reason string o
4 message string o
5 startedAt Time
6 finishedAt Time
7 containerID string o
message core.v1.ContainerStateWaiting
1 reason string o
2 message string o
message core.v1.ContainerStatus
1 name string
2 state core.v1.ContainerState
3 lastState core.v1.ContainerState
4 ready bool
5 restartCount int
6 image string
7 imageID string
8 containerID string o
9 started bool
10 allocatedResources Quantity m
11 resources core.v1.ResourceRequirements
12 volumeMounts core.v1.VolumeMountStatus r
13 user core.v1.ContainerUser
14 allocatedResourcesStatus core.v1.ResourceStatus r
15 stopSignal string
message core.v1.ContainerUser
1 linux core.v1.LinuxContainerUser
message core.v1.DaemonEndpoint
1 Port int
message core.v1.DownwardAPIProjection
1 items core.v1.DownwardAPIVolumeFile r
message core.v1.DownwardAPIVolumeFile
1 path string
2 fieldRef core.v1.ObjectFieldSelector
3 resourceFieldRef core.v1.ResourceFieldSelector
4 mode int
5 user int
message core.v1.DownwardAPIVolumeSource
1 items core.v1.DownwardAPIVolumeFile r
2 defaultMode int
3 defaultUser int
message core.v1.EmptyDirVolumeSource
1 medium string o
2 sizeLimit Quantity
3 mode int
message core.v1.EndpointAddress
1 ip string
3 hostname string o
4 nodeName string
2 targetRef core.v1.ObjectReference
message core.v1.EndpointPort
1 name string o
2 port int
3 protocol string o
4 appProtocol string
message core.v1.EndpointSubset
1 addresses core.v1.EndpointAddress r
2 notReadyAddresses core.v1.EndpointAddress r
3 ports core.v1.EndpointPort r
message core.v1.Endpoints
1 metadata meta.v1.ObjectMeta
2 subsets core.v1.EndpointSubset r
message core.v1.EnvFromSource
1 prefix string o
2 configMapRef core.v1.ConfigMapEnvSource
3 secretRef core.v1.SecretEnvSource
message core.v1.EnvVar
1 name string
2 value string o
3 valueFrom core.v1.EnvVarSource
message core.v1.EnvVarSource
1 fieldRef core.v1.ObjectFieldSelector
2 resourceFieldRef core.v1.ResourceFieldSelector
3 configMapKeyRef core.v1.ConfigMapKeySelector
4 secretKeyRef core.v1.SecretKeySelector
5 fileKeyRef core.v1.FileKeySelector
message core.v1.EphemeralContainer
1 - core.v1.EphemeralContainerCommon i
2 targetContainerName string o
message core.v1.EphemeralContainerCommon
1 name string
2 image string o
3 command string r
4 args string r
5 workingDir string o
6 ports core.v1.ContainerPort r
19 envFrom core.v1.EnvFromSource r
7 env core.v1.EnvVar r
8 resources core.v1.ResourceRequirements
23 resizePolicy core.v1.ContainerResizePolicy r
24 restartPolicy string
25 restartPolicyRules core.v1.ContainerRestartRule r
9 volumeMounts core.v1.VolumeMount r
21 volumeDevices core.v1.VolumeDevice r
10 livenessProbe core.v1.Probe
11 readinessProbe core.v1.Probe
22 startupProbe core.v1.Probe
12 lifecycle core.v1.Lifecycle
13 terminationMessagePath string o
20 terminationMessagePolicy string o
14 imagePullPolicy string o
15 securityContext core.v1.SecurityContext
16 stdin bool o
17 stdinOnce bool o
18 tty bool o
message core.v1.EphemeralVolumeSource
1 volumeClaimTemplate core.v1.PersistentVolumeClaimTemplate
message core.v1.Event
1 metadata meta.v1.ObjectMeta
2 involvedObject core.v1.ObjectReference
3 reason string o
4 message string o
5 source core.v1.EventSource
6 firstTimestamp Time
7 lastTimestamp Time
8 count int o
9 type string o
10 eventTime MicroTime
11 series core.v1.EventSeries
12 action string o
13 related core.v1.ObjectReference
14 reportingComponent string
15 reportingInstance string
message core.v1.EventSeries
1 count int o
2 lastObservedTime MicroTime
message core.v1.EventSource
1 component string o
2 host string o
message core.v1.EvictionResponder
1 name string
2 priority int
message core.v1.ExecAction
1 command string r
message core.v1.FCVolumeSource
1 targetWWNs string r
2 lun int
3 fsType string o
4 readOnly bool o
5 wwids string r
message core.v1.FileKeySelector
1 volumeName string
2 path string
3 key string
4 optional bool
message core.v1.FlexPersistentVolumeSource
1 driver string
2 fsType string o
3 secretRef core.v1.SecretReference
4 readOnly bool o
5 options string m
message core.v1.FlexVolumeSource
1 driver string
2 fsType string o
3 secretRef core.v1.LocalObjectReference
4 readOnly bool o
5 options string m
message core.v1.FlockerVolumeSource
1 datasetName string o
2 datasetUUID string o
message core.v1.GCEPersistentDiskVolumeSource
1 pdName string
2 fsType string o
3 partition int o
4 readOnly bool o
message core.v1.GRPCAction
1 port int
2 service string
3 mode string
message core.v1.GitRepoVolumeSource
1 repository string
2 revision string o
3 directory string o
message core.v1.GlusterfsPersistentVolumeSource
1 endpoints string
2 path string
3 readOnly bool o
4 endpointsNamespace string
message core.v1.GlusterfsVolumeSource
1 endpoints string
2 path string
3 readOnly bool o
message core.v1.HTTPGetAction
1 path string o
2 port IntOrString
3 host string o
4 scheme string o
5 httpHeaders core.v1.HTTPHeader r
6 protocol string
message core.v1.HTTPHeader
1 name string
2 value string
message core.v1.HostAlias
1 ip string
2 hostnames string r
message core.v1.HostIP
1 ip string
message core.v1.HostPathVolumeSource
1 path string
2 type string
message core.v1.ISCSIPersistentVolumeSource
1 targetPortal string
2 iqn string
3 lun int
4 iscsiInterface string o
5 fsType string o
6 readOnly bool o
7 portals string r
8 chapAuthDiscovery bool o
11 chapAuthSession bool o
10 secretRef core.v1.SecretReference
12 initiatorName string
message core.v1.ISCSIVolumeSource
1 targetPortal string
2 iqn string
3 lun int
4 iscsiInterface string o
5 fsType string o
6 readOnly bool o
7 portals string r
8 chapAuthDiscovery bool o
11 chapAuthSession bool o
10 secretRef core.v1.LocalObjectReference
12 initiatorName string
message core.v1.ImageVolumeSource
1 reference string o
2 pullPolicy string o
message core.v1.ImageVolumeStatus
1 imageRef string o
message core.v1.KeyToPath
1 key string
2 path string
3 mode int
4 user int
message core.v1.Lifecycle
1 postStart core.v1.LifecycleHandler
2 preStop core.v1.LifecycleHandler
3 stopSignal string
message core.v1.LifecycleHandler
1 exec core.v1.ExecAction
2 httpGet core.v1.HTTPGetAction
3 tcpSocket core.v1.TCPSocketAction
4 sleep core.v1.SleepAction
message core.v1.LimitRange
1 metadata meta.v1.ObjectMeta
2 spec core.v1.LimitRangeSpec
message core.v1.LimitRangeItem
1 type string
2 max Quantity m
3 min Quantity m
4 default Quantity m
5 defaultRequest Quantity m
6 maxLimitRequestRatio Quantity m
message core.v1.LimitRangeSpec
1 limits core.v1.LimitRangeItem rn
message core.v1.LinuxContainerUser
1 uid int
2 gid int
3 supplementalGroups int r
message core.v1.LoadBalancerIngress
1 ip string o
2 hostname string o
3 ipMode string
4 ports core.v1.PortStatus r
message core.v1.LoadBalancerStatus
1 ingress core.v1.LoadBalancerIngress r
message core.v1.LocalObjectReference
1 name string o
message core.v1.LocalVolumeSource
1 path string
2 fsType string
message core.v1.ModifyVolumeStatus
1 targetVolumeAttributesClassName string o
2 status string
message core.v1.NFSVolumeSource
1 server string
2 path string
3 readOnly bool o
message core.v1.Namespace
1 metadata meta.v1.ObjectMeta
2 spec core.v1.NamespaceSpec
3 status core.v1.NamespaceStatus
message core.v1.NamespaceCondition
1 type string
2 status string
4 lastTransitionTime Time
5 reason string o
6 message string o
message core.v1.NamespaceSpec
1 finalizers string r
message core.v1.NamespaceStatus
1 phase string o
2 conditions core.v1.NamespaceCondition r
message core.v1.Node
1 metadata meta.v1.ObjectMeta
2 spec core.v1.NodeSpec
3 status core.v1.NodeStatus
message core.v1.NodeAddress
1 type string
2 address string
message core.v1.NodeAffinity
1 requiredDuringSchedulingIgnoredDuringExecution core.v1.NodeSelector
2 preferredDuringSchedulingIgnoredDuringExecution core.v1.PreferredSchedulingTerm r
message core.v1.NodeAllocatableMappedResources
1 name string
2 quantity Quantity
message core.v1.NodeAllocatableOverheadResources
1 name string
2 perPod Quantity
3 perContainer Quantity
message core.v1.NodeAllocatableResourceClaimStatus
1 resourceClaimName string
2 containers string r
4 mapping core.v1.NodeAllocatableMappedResources r
5 overhead core.v1.NodeAllocatableOverheadResources r
message core.v1.NodeCondition
1 type string
2 status string
3 lastHeartbeatTime Time
4 lastTransitionTime Time
5 reason string o
6 message string o
message core.v1.NodeConfigSource
2 configMap core.v1.ConfigMapNodeConfigSource
message core.v1.NodeConfigStatus
1 assigned core.v1.NodeConfigSource
2 active core.v1.NodeConfigSource
3 lastKnownGood core.v1.NodeConfigSource
4 error string o
message core.v1.NodeDaemonEndpoints
1 kubeletEndpoint core.v1.DaemonEndpoint
message core.v1.NodeFeatures
1 supplementalGroupsPolicy bool
message core.v1.NodePodPreemptionPolicy
1 disableResizePreemption string r
message core.v1.NodeProxyOptions
1 path string o
message core.v1.NodeRuntimeHandler
1 name string
2 features core.v1.NodeRuntimeHandlerFeatures
message core.v1.NodeRuntimeHandlerFeatures
1 recursiveReadOnlyMounts bool
2 userNamespaces bool
message core.v1.NodeSelector
1 nodeSelectorTerms core.v1.NodeSelectorTerm rn
message core.v1.NodeSelectorRequirement
1 key string
2 operator string
3 values string r
message core.v1.NodeSelectorTerm
1 matchExpressions core.v1.NodeSelectorRequirement r
2 matchFields core.v1.NodeSelectorRequirement r
message core.v1.NodeSpec
1 podCIDR string o
7 podCIDRs string r
3 providerID string o
4 unschedulable bool o
5 taints core.v1.Taint r
6 configSource core.v1.NodeConfigSource
2 externalID string o
8 podPreemptionPolicy core.v1.NodePodPreemptionPolicy
message core.v1.NodeStatus
1 capacity Quantity m
2 allocatable Quantity m
3 phase string o
4 conditions core.v1.NodeCondition r
5 addresses core.v1.NodeAddress r
6 daemonEndpoints core.v1.NodeDaemonEndpoints
7 nodeInfo core.v1.NodeSystemInfo
8 images core.v1.ContainerImage r
9 volumesInUse string r
10 volumesAttached core.v1.AttachedVolume r
11 config core.v1.NodeConfigStatus
12 runtimeHandlers core.v1.NodeRuntimeHandler r
13 features core.v1.NodeFeatures
14 declaredFeatures string r
message core.v1.NodeSwapStatus
1 capacity int
message core.v1.NodeSystemInfo
1 machineID string
2 systemUUID string
3 bootID string
4 kernelVersion string
5 osImage string
6 containerRuntimeVersion string
7 kubeletVersion string
8 kubeProxyVersion string
9 operatingSystem string
10 architecture string
11 swap core.v1.NodeSwapStatus
12 runningInUserNamespace bool
message core.v1.ObjectFieldSelector
1 apiVersion string o
2 fieldPath string
message core.v1.ObjectReference
1 kind string o
2 namespace string o
3 name string o
4 uid string o
5 apiVersion string o
6 resourceVersion string o
7 fieldPath string o
message core.v1.PersistentVolume
1 metadata meta.v1.ObjectMeta
2 spec core.v1.PersistentVolumeSpec
3 status core.v1.PersistentVolumeStatus
message core.v1.PersistentVolumeClaim
1 metadata meta.v1.ObjectMeta
2 spec core.v1.PersistentVolumeClaimSpec
3 status core.v1.PersistentVolumeClaimStatus
message core.v1.PersistentVolumeClaimCondition
1 type string
2 status string
3 lastProbeTime Time
4 lastTransitionTime Time
5 reason string o
6 message string o
message core.v1.PersistentVolumeClaimSpec
1 accessModes string r
4 selector meta.v1.LabelSelector
2 resources core.v1.VolumeResourceRequirements
3 volumeName string o
5 storageClassName string
6 volumeMode string
7 dataSource core.v1.TypedLocalObjectReference
8 dataSourceRef core.v1.TypedObjectReference
9 volumeAttributesClassName string
message core.v1.PersistentVolumeClaimStatus
1 phase string o
2 accessModes string r
3 capacity Quantity m
4 conditions core.v1.PersistentVolumeClaimCondition r
5 allocatedResources Quantity m
7 allocatedResourceStatuses string m
8 currentVolumeAttributesClassName string
9 modifyVolumeStatus core.v1.ModifyVolumeStatus
10 healthStatus core.v1.VolumeHealthStatus
message core.v1.PersistentVolumeClaimTemplate
1 metadata meta.v1.ObjectMeta
2 spec core.v1.PersistentVolumeClaimSpec
message core.v1.PersistentVolumeClaimVolumeSource
1 claimName string
2 readOnly bool o
message core.v1.PersistentVolumeSource
1 gcePersistentDisk core.v1.GCEPersistentDiskVolumeSource
2 awsElasticBlockStore core.v1.AWSElasticBlockStoreVolumeSource
3 hostPath core.v1.HostPathVolumeSource
4 glusterfs core.v1.GlusterfsPersistentVolumeSource
5 nfs core.v1.NFSVolumeSource
6 rbd core.v1.RBDPersistentVolumeSource
7 iscsi core.v1.ISCSIPersistentVolumeSource
8 cinder core.v1.CinderPersistentVolumeSource
9 cephfs core.v1.CephFSPersistentVolumeSource
10 fc core.v1.FCVolumeSource
11 flocker core.v1.FlockerVolumeSource
12 flexVolume core.v1.FlexPersistentVolumeSource
13 azureFile core.v1.AzureFilePersistentVolumeSource
14 vsphereVolume core.v1.VsphereVirtualDiskVolumeSource
15 quobyte core.v1.QuobyteVolumeSource
16 azureDisk core.v1.AzureDiskVolumeSource
17 photonPersistentDisk core.v1.PhotonPersistentDiskVolumeSource
18 portworxVolume core.v1.PortworxVolumeSource
19 scaleIO core.v1.ScaleIOPersistentVolumeSource
20 local core.v1.LocalVolumeSource
21 storageos core.v1.StorageOSPersistentVolumeSource
22 csi core.v1.CSIPersistentVolumeSource
message core.v1.PersistentVolumeSpec
1 capacity Quantity m
2 - core.v1.PersistentVolumeSource i
3 accessModes string r
4 claimRef core.v1.ObjectReference
5 persistentVolumeReclaimPolicy string o
6 storageClassName string o
7 mountOptions string r
8 volumeMode string
9 nodeAffinity core.v1.VolumeNodeAffinity
10 volumeAttributesClassName string
message core.v1.PersistentVolumeStatus
1 phase string o
2 message string o
3 reason string o
4 lastPhaseTransitionTime Time
message core.v1.PhotonPersistentDiskVolumeSource
1 pdID string
2 fsType string o
message core.v1.Pod
1 metadata meta.v1.ObjectMeta
2 spec core.v1.PodSpec
3 status core.v1.PodStatus
message core.v1.PodAffinity
1 requiredDuringSchedulingIgnoredDuringExecution core.v1.PodAffinityTerm r
2 preferredDuringSchedulingIgnoredDuringExecution core.v1.WeightedPodAffinityTerm r
message core.v1.PodAffinityTerm
1 labelSelector meta.v1.LabelSelector
2 namespaces string r
3 topologyKey string
4 namespaceSelector meta.v1.LabelSelector
5 matchLabelKeys string r
6 mismatchLabelKeys string r
message core.v1.PodAntiAffinity
1 requiredDuringSchedulingIgnoredDuringExecution core.v1.PodAffinityTerm r
2 preferredDuringSchedulingIgnoredDuringExecution core.v1.WeightedPodAffinityTerm r
message core.v1.PodAttachOptions
1 stdin bool o
2 stdout bool o
3 stderr bool o
4 tty bool o
5 container string o
message core.v1.PodCertificateProjection
1 signerName string o
2 keyType string o
3 maxExpirationSeconds int
4 credentialBundlePath string o
5 keyPath string o
6 certificateChainPath string o
7 userAnnotations string m
8 user int
message core.v1.PodCondition
1 type string
7 observedGeneration int o
2 status string
3 lastProbeTime Time
4 lastTransitionTime Time
5 reason string o
6 message string o
message core.v1.PodDNSConfig
1 nameservers string r
2 searches string r
3 options core.v1.PodDNSConfigOption r
message core.v1.PodDNSConfigOption
1 name string o
2 value string
message core.v1.PodExecOptions
1 stdin bool o
2 stdout bool o
3 stderr bool o
4 tty bool o
5 container string o
6 command string rn
message core.v1.PodExtendedResourceClaimStatus
1 requestMappings core.v1.ContainerExtendedResourceRequest rn
2 resourceClaimName string
message core.v1.PodIP
1 ip string
message core.v1.PodLogOptions
1 container string o
2 follow bool o
3 previous bool o
4 sinceSeconds int
5 sinceTime Time
6 timestamps bool o
7 tailLines int
8 limitBytes int
9 insecureSkipTLSVerifyBackend bool o
10 stream string
message core.v1.PodOS
1 name string
message core.v1.PodPortForwardOptions
1 ports int r
message core.v1.PodProxyOptions
1 path string o
message core.v1.PodReadinessGate
1 conditionType string
message core.v1.PodResourceClaim
1 name string
3 resourceClaimName string
4 resourceClaimTemplateName string
message core.v1.PodResourceClaimStatus
1 name string
2 resourceClaimName string
message core.v1.PodSchedulingGate
1 name string
message core.v1.PodSchedulingGroup
1 podGroupName string
message core.v1.PodSecurityContext
1 seLinuxOptions core.v1.SELinuxOptions
8 windowsOptions core.v1.WindowsSecurityContextOptions
2 runAsUser int
6 runAsGroup int
3 runAsNonRoot bool
4 supplementalGroups int r
12 supplementalGroupsPolicy string
5 fsGroup int
7 sysctls core.v1.Sysctl r
9 fsGroupChangePolicy string
10 seccompProfile core.v1.SeccompProfile
11 appArmorProfile core.v1.AppArmorProfile
13 seLinuxChangePolicy string
message core.v1.PodSpec
1 volumes core.v1.Volume r
20 initContainers core.v1.Container r
2 containers core.v1.Container rn
34 ephemeralContainers core.v1.EphemeralContainer r
3 restartPolicy string o
4 terminationGracePeriodSeconds int
5 activeDeadlineSeconds int
6 dnsPolicy string o
7 nodeSelector string m
8 serviceAccountName string o
9 serviceAccount string o
21 automountServiceAccountToken bool
10 nodeName string o
11 hostNetwork bool o
12 hostPID bool o
13 hostIPC bool o
27 shareProcessNamespace bool
14 securityContext core.v1.PodSecurityContext
15 imagePullSecrets core.v1.LocalObjectReference r
16 hostname string o
17 subdomain string o
18 affinity core.v1.Affinity
19 schedulerName string o
22 tolerations core.v1.Toleration r
23 hostAliases core.v1.HostAlias r
24 priorityClassName string o
25 priority int
26 dnsConfig core.v1.PodDNSConfig
28 readinessGates core.v1.PodReadinessGate r
29 runtimeClassName string
30 enableServiceLinks bool
31 preemptionPolicy string
32 overhead Quantity m
33 topologySpreadConstraints core.v1.TopologySpreadConstraint r
35 setHostnameAsFQDN bool
36 os core.v1.PodOS
37 hostUsers bool
38 schedulingGates core.v1.PodSchedulingGate r
39 resourceClaims core.v1.PodResourceClaim r
40 resources core.v1.ResourceRequirements
41 hostnameOverride string
43 schedulingGroup core.v1.PodSchedulingGroup
44 evictionResponders core.v1.EvictionResponder r
message core.v1.PodStatus
17 observedGeneration int o
1 phase string o
2 conditions core.v1.PodCondition r
3 message string o
4 reason string o
11 nominatedNodeName string o
5 hostIP string o
16 hostIPs core.v1.HostIP r
6 podIP string o
12 podIPs core.v1.PodIP r
7 startTime Time
10 initContainerStatuses core.v1.ContainerStatus r
8 containerStatuses core.v1.ContainerStatus r
9 qosClass string o
13 ephemeralContainerStatuses core.v1.ContainerStatus r
14 resize string o
15 resourceClaimStatuses core.v1.PodResourceClaimStatus r
18 extendedResourceClaimStatus core.v1.PodExtendedResourceClaimStatus
19 allocatedResources Quantity m
20 resources core.v1.ResourceRequirements
21 nodeAllocatableResourceClaimStatuses core.v1.NodeAllocatableResourceClaimStatus r
22 volumeHealth core.v1.PodVolumeHealth r
message core.v1.PodTemplate
1 metadata meta.v1.ObjectMeta
2 template core.v1.PodTemplateSpec
message core.v1.PodTemplateSpec
1 metadata meta.v1.ObjectMeta
2 spec core.v1.PodSpec
message core.v1.PodVolumeHealth
1 name string
2 healthConditions core.v1.VolumeHealthCondition r
3 lastTransitionTime Time
message core.v1.PortStatus
1 port int
2 protocol string
3 error string
message core.v1.PortworxVolumeSource
1 volumeID string
2 fsType string o
3 readOnly bool o
message core.v1.PreferredSchedulingTerm
1 weight int
2 preference core.v1.NodeSelectorTerm
message core.v1.Probe
1 - core.v1.ProbeHandler i
2 initialDelaySeconds int o
3 timeoutSeconds int o
4 periodSeconds int o
5 successThreshold int o
6 failureThreshold int o
7 terminationGracePeriodSeconds int
message core.v1.ProbeHandler
1 exec core.v1.ExecAction
2 httpGet core.v1.HTTPGetAction
3 tcpSocket core.v1.TCPSocketAction
4 grpc core.v1.GRPCAction
message core.v1.ProjectedVolumeSource
1 sources core.v1.VolumeProjection rn
2 defaultMode int
3 defaultUser int
message core.v1.QuobyteVolumeSource
1 registry string
2 volume string
3 readOnly bool o
4 user string o
5 group string o
6 tenant string o
message core.v1.RBDPersistentVolumeSource
1 monitors string rn
2 image string
3 fsType string o
4 pool string o
5 user string o
6 keyring string o
7 secretRef core.v1.SecretReference
8 readOnly bool o
message core.v1.RBDVolumeSource
1 monitors string rn
2 image string
3 fsType string o
4 pool string o
5 user string o
6 keyring string o
7 secretRef core.v1.LocalObjectReference
8 readOnly bool o
message core.v1.RangeAllocation
1 metadata meta.v1.ObjectMeta
2 range string
3 data bytes n
message core.v1.ReplicationController
1 metadata meta.v1.ObjectMeta
2 spec core.v1.ReplicationControllerSpec
3 status core.v1.ReplicationControllerStatus
message core.v1.ReplicationControllerCondition
1 type string
2 status string
3 lastTransitionTime Time
4 reason string o
5 message string o
message core.v1.ReplicationControllerSpec
1 replicas int
4 minReadySeconds int o
2 selector string m
3 template core.v1.PodTemplateSpec
message core.v1.ReplicationControllerStatus
1 replicas int
2 fullyLabeledReplicas int o
4 readyReplicas int o
5 availableReplicas int o
3 observedGeneration int o
6 conditions core.v1.ReplicationControllerCondition r
message core.v1.ResourceClaim
1 name string
2 request string o
message core.v1.ResourceFieldSelector
1 containerName string o
2 resource string
3 divisor Quantity
message core.v1.ResourceHealth
1 resourceID string
2 health string o
6 message string
message core.v1.ResourceQuota
1 metadata meta.v1.ObjectMeta
2 spec core.v1.ResourceQuotaSpec
3 status core.v1.ResourceQuotaStatus
message core.v1.ResourceQuotaSpec
1 hard Quantity m
2 scopes string r
3 scopeSelector core.v1.ScopeSelector
message core.v1.ResourceQuotaStatus
1 hard Quantity m
2 used Quantity m
message core.v1.ResourceRequirements
1 limits Quantity m
2 requests Quantity m
3 claims core.v1.ResourceClaim r
message core.v1.ResourceStatus
1 name string
2 resources core.v1.ResourceHealth r
message core.v1.SELinuxOptions
1 user string o
2 role string o
3 type string o
4 level string o
message core.v1.ScaleIOPersistentVolumeSource
1 gateway string
2 system string
3 secretRef core.v1.SecretReference
4 sslEnabled bool o
5 protectionDomain string o
6 storagePool string o
7 storageMode string o
8 volumeName string o
9 fsType string o
10 readOnly bool o
message core.v1.ScaleIOVolumeSource
1 gateway string
2 system string
3 secretRef core.v1.LocalObjectReference
4 sslEnabled bool o
5 protectionDomain string o
6 storagePool string o
7 storageMode string o
8 volumeName string o
9 fsType string o
10 readOnly bool o
message core.v1.ScopeSelector
1 matchExpressions core.v1.ScopedResourceSelectorRequirement r
message core.v1.ScopedResourceSelectorRequirement
1 scopeName string
2 operator string
3 values string r
message core.v1.SeccompProfile
1 type string
2 localhostProfile string
message core.v1.Secret
1 metadata meta.v1.ObjectMeta
5 immutable bool
2 data bytes m
4 stringData string m
3 type string o
message core.v1.SecretEnvSource
1 - core.v1.LocalObjectReference i
2 optional bool
message core.v1.SecretKeySelector
1 - core.v1.LocalObjectReference i
2 key string
3 optional bool
message core.v1.SecretProjection
1 - core.v1.LocalObjectReference i
2 items core.v1.KeyToPath r
4 optional bool
message core.v1.SecretReference
1 name string o
2 namespace string o
message core.v1.SecretVolumeSource
1 secretName string o
2 items core.v1.KeyToPath r
3 defaultMode int
4 optional bool
5 defaultUser int
message core.v1.SecurityContext
1 capabilities core.v1.Capabilities
2 privileged bool
3 seLinuxOptions core.v1.SELinuxOptions
10 windowsOptions core.v1.WindowsSecurityContextOptions
4 runAsUser int
8 runAsGroup int
5 runAsNonRoot bool
6 readOnlyRootFilesystem bool
7 allowPrivilegeEscalation bool
9 procMount string
11 seccompProfile core.v1.SeccompProfile
12 appArmorProfile core.v1.AppArmorProfile
message core.v1.SerializedReference
1 reference core.v1.ObjectReference
message core.v1.Service
1 metadata meta.v1.ObjectMeta
2 spec core.v1.ServiceSpec
3 status core.v1.ServiceStatus
message core.v1.ServiceAccount
1 metadata meta.v1.ObjectMeta
2 secrets core.v1.ObjectReference r
3 imagePullSecrets core.v1.LocalObjectReference r
4 automountServiceAccountToken bool
message core.v1.ServiceAccountTokenProjection
1 audience string o
2 expirationSeconds int
3 path string
4 user int
message core.v1.ServicePort
1 name string o
2 protocol string o
6 appProtocol string
3 port int
4 targetPort IntOrString
5 nodePort int o
message core.v1.ServiceProxyOptions
1 path string o
message core.v1.ServiceSpec
1 ports core.v1.ServicePort r
2 selector string m
3 clusterIP string o
18 clusterIPs string r
4 type string o
5 externalIPs string r
7 sessionAffinity string o
8 loadBalancerIP string o
9 loadBalancerSourceRanges string r
10 externalName string o
11 externalTrafficPolicy string o
12 healthCheckNodePort int o
13 publishNotReadyAddresses bool o
14 sessionAffinityConfig core.v1.SessionAffinityConfig
19 ipFamilies string r
17 ipFamilyPolicy string
20 allocateLoadBalancerNodePorts bool
21 loadBalancerClass string
22 internalTrafficPolicy string
23 trafficDistribution string
message core.v1.ServiceStatus
1 loadBalancer core.v1.LoadBalancerStatus
2 conditions meta.v1.Condition r
message core.v1.SessionAffinityConfig
1 clientIP core.v1.ClientIPConfig
message core.v1.SleepAction
1 seconds int
message core.v1.StorageOSPersistentVolumeSource
1 volumeName string o
2 volumeNamespace string o
3 fsType string o
4 readOnly bool o
5 secretRef core.v1.ObjectReference
message core.v1.StorageOSVolumeSource
1 volumeName string o
2 volumeNamespace string o
3 fsType string o
4 readOnly bool o
5 secretRef core.v1.LocalObjectReference
message core.v1.Sysctl
1 name string
2 value string
message core.v1.TCPSocketAction
1 port IntOrString
2 host string o
message core.v1.Taint
1 key string
2 value string o
3 effect string
4 timeAdded Time
message core.v1.Toleration
1 key string o
2 operator string o
3 value string o
4 effect string o
5 tolerationSeconds int
message core.v1.TopologySpreadConstraint
1 maxSkew int
2 topologyKey string
3 whenUnsatisfiable string
4 labelSelector meta.v1.LabelSelector
5 minDomains int
6 nodeAffinityPolicy string
7 nodeTaintsPolicy string
8 matchLabelKeys string r
message core.v1.TypedLocalObjectReference
1 apiGroup string
2 kind string
3 name string
message core.v1.TypedObjectReference
1 apiGroup string
2 kind string
3 name string
4 namespace string
message core.v1.Volume
1 name string
2 - core.v1.VolumeSource i
message core.v1.VolumeDevice
1 name string
2 devicePath string
message core.v1.VolumeHealthCondition
1 status string
2 reason string
3 message string o
message core.v1.VolumeHealthStatus
1 healthConditions core.v1.VolumeHealthCondition r
2 lastTransitionTime Time
message core.v1.VolumeMount
1 name string
2 readOnly bool o
7 recursiveReadOnly string
3 mountPath string
4 subPath string o
5 mountPropagation string
6 subPathExpr string o
8 bindMountOptions string r
message core.v1.VolumeMountStatus
1 name string
2 mountPath string
3 readOnly bool o
4 recursiveReadOnly string
5 volumeStatus core.v1.VolumeStatus
message core.v1.VolumeNodeAffinity
1 required core.v1.NodeSelector
message core.v1.VolumeProjection
1 secret core.v1.SecretProjection
2 downwardAPI core.v1.DownwardAPIProjection
3 configMap core.v1.ConfigMapProjection
4 serviceAccountToken core.v1.ServiceAccountTokenProjection
5 clusterTrustBundle core.v1.ClusterTrustBundleProjection
6 podCertificate core.v1.PodCertificateProjection
message core.v1.VolumeResourceRequirements
1 limits Quantity m
2 requests Quantity m
message core.v1.VolumeSource
1 hostPath core.v1.HostPathVolumeSource
2 emptyDir core.v1.EmptyDirVolumeSource
3 gcePersistentDisk core.v1.GCEPersistentDiskVolumeSource
4 awsElasticBlockStore core.v1.AWSElasticBlockStoreVolumeSource
5 gitRepo core.v1.GitRepoVolumeSource
6 secret core.v1.SecretVolumeSource
7 nfs core.v1.NFSVolumeSource
8 iscsi core.v1.ISCSIVolumeSource
9 glusterfs core.v1.GlusterfsVolumeSource
10 persistentVolumeClaim core.v1.PersistentVolumeClaimVolumeSource
11 rbd core.v1.RBDVolumeSource
12 flexVolume core.v1.FlexVolumeSource
13 cinder core.v1.CinderVolumeSource
14 cephfs core.v1.CephFSVolumeSource
15 flocker core.v1.FlockerVolumeSource
16 downwardAPI core.v1.DownwardAPIVolumeSource
17 fc core.v1.FCVolumeSource
18 azureFile core.v1.AzureFileVolumeSource
19 configMap core.v1.ConfigMapVolumeSource
20 vsphereVolume core.v1.VsphereVirtualDiskVolumeSource
21 quobyte core.v1.QuobyteVolumeSource
22 azureDisk core.v1.AzureDiskVolumeSource
23 photonPersistentDisk core.v1.PhotonPersistentDiskVolumeSource
26 projected core.v1.ProjectedVolumeSource
24 portworxVolume core.v1.PortworxVolumeSource
25 scaleIO core.v1.ScaleIOVolumeSource
27 storageos core.v1.StorageOSVolumeSource
28 csi core.v1.CSIVolumeSource
29 ephemeral core.v1.EphemeralVolumeSource
30 image core.v1.ImageVolumeSource
message core.v1.VolumeStatus
1 image core.v1.ImageVolumeStatus
message core.v1.VsphereVirtualDiskVolumeSource
1 volumePath string
2 fsType string o
3 storagePolicyName string o
4 storagePolicyID string o
message core.v1.WeightedPodAffinityTerm
1 weight int
2 podAffinityTerm core.v1.PodAffinityTerm
message core.v1.WindowsSecurityContextOptions
1 gmsaCredentialSpecName string
2 gmsaCredentialSpec string
3 runAsUserName string
4 hostProcess bool
message discovery.v1.Endpoint
1 addresses string rn
2 conditions discovery.v1.EndpointConditions
3 hostname string
4 targetRef core.v1.ObjectReference
5 deprecatedTopology string m
6 nodeName string
7 zone string
8 hints discovery.v1.EndpointHints
message discovery.v1.EndpointConditions
1 ready bool
2 serving bool
3 terminating bool
message discovery.v1.EndpointHints
1 forZones discovery.v1.ForZone r
2 forNodes discovery.v1.ForNode r
message discovery.v1.EndpointPort
1 name string
2 protocol string
3 port int
4 appProtocol string
message discovery.v1.EndpointSlice
1 metadata meta.v1.ObjectMeta
4 addressType string
2 endpoints discovery.v1.Endpoint rn
3 ports discovery.v1.EndpointPort rn
message discovery.v1.ForNode
1 name string
message discovery.v1.ForZone
1 name string
message events.v1.Event
1 metadata meta.v1.ObjectMeta
2 eventTime MicroTime
3 series events.v1.EventSeries
4 reportingController string o
5 reportingInstance string o
6 action string o
7 reason string o
8 regarding core.v1.ObjectReference
9 related core.v1.ObjectReference
10 note string o
11 type string o
12 deprecatedSource core.v1.EventSource
13 deprecatedFirstTimestamp Time
14 deprecatedLastTimestamp Time
15 deprecatedCount int o
message events.v1.EventSeries
1 count int
2 lastObservedTime MicroTime
message meta.v1.Condition
1 type string
2 status string
3 observedGeneration int o
4 lastTransitionTime Time
5 reason string
6 message string
message meta.v1.CreateOptions
1 dryRun string r
3 fieldManager string o
4 fieldValidation string o
message meta.v1.DeleteOptions
1 gracePeriodSeconds int
2 preconditions meta.v1.Preconditions
3 orphanDependents bool
4 propagationPolicy string
5 dryRun string r
6 ignoreStoreReadErrorWithClusterBreakingPotential bool
message meta.v1.FieldSelectorRequirement
1 key string
2 operator string
3 values string r
message meta.v1.GetOptions
1 resourceVersion string o
message meta.v1.LabelSelector
1 matchLabels string m
2 matchExpressions meta.v1.LabelSelectorRequirement r
message meta.v1.LabelSelectorRequirement
1 key string
2 operator string
3 values string r
message meta.v1.ListMeta
1 selfLink string o
2 resourceVersion string o
3 continue string o
4 remainingItemCount int
5 shardInfo meta.v1.ShardInfo
message meta.v1.ListOptions
1 labelSelector string o
2 fieldSelector string o
3 watch bool o
9 allowWatchBookmarks bool o
4 resourceVersion string o
10 resourceVersionMatch string o
5 timeoutSeconds int
7 limit int o
8 continue string o
11 sendInitialEvents bool
15 shardSelector string o
message meta.v1.ManagedFieldsEntry
1 manager string o
2 operation string o
3 apiVersion string o
4 time Time
6 fieldsType string o
7 fieldsV1 FieldsV1
8 subresource string o
message meta.v1.ObjectMeta
1 name string o
2 generateName string o
3 namespace string o
4 selfLink string o
5 uid string o
6 resourceVersion string o
7 generation int o
8 creationTimestamp Time z
9 deletionTimestamp Time
10 deletionGracePeriodSeconds int
11 labels string m
12 annotations string m
13 ownerReferences meta.v1.OwnerReference r
14 finalizers string r
17 managedFields meta.v1.ManagedFieldsEntry r
message meta.v1.OwnerReference
5 apiVersion string
1 kind string
3 name string
4 uid string
6 controller bool
7 blockOwnerDeletion bool
message meta.v1.PatchOptions
1 dryRun string r
2 force bool
3 fieldManager string o
4 fieldValidation string o
message meta.v1.Preconditions
1 uid string
2 resourceVersion string
message meta.v1.ShardInfo
1 selector string
message meta.v1.Status
1 metadata meta.v1.ListMeta
2 status string o
3 message string o
4 reason string o
5 details meta.v1.StatusDetails
6 code int o
message meta.v1.StatusCause
1 reason string o
2 message string o
3 field string o
message meta.v1.StatusDetails
1 name string o
2 group string o
3 kind string o
6 uid string o
4 causes meta.v1.StatusCause r
5 retryAfterSeconds int o
message meta.v1.UpdateOptions
1 dryRun string r
2 fieldManager string o
3 fieldValidation string o
message networking.v1.HTTPIngressPath
1 path string o
3 pathType string
2 backend networking.v1.IngressBackend
message networking.v1.HTTPIngressRuleValue
1 paths networking.v1.HTTPIngressPath rn
message networking.v1.IPAddress
1 metadata meta.v1.ObjectMeta
2 spec networking.v1.IPAddressSpec
message networking.v1.IPAddressSpec
1 parentRef networking.v1.ParentReference
message networking.v1.IPBlock
1 cidr string
2 except string r
message networking.v1.Ingress
1 metadata meta.v1.ObjectMeta
2 spec networking.v1.IngressSpec
3 status networking.v1.IngressStatus
message networking.v1.IngressBackend
4 service networking.v1.IngressServiceBackend
3 resource core.v1.TypedLocalObjectReference
message networking.v1.IngressClass
1 metadata meta.v1.ObjectMeta
2 spec networking.v1.IngressClassSpec
message networking.v1.IngressClassParametersReference
1 apiGroup string
2 kind string
3 name string
4 scope string
5 namespace string
message networking.v1.IngressClassSpec
1 controller string o
2 parameters networking.v1.IngressClassParametersReference
message networking.v1.IngressLoadBalancerIngress
1 ip string o
2 hostname string o
4 ports networking.v1.IngressPortStatus r
message networking.v1.IngressLoadBalancerStatus
1 ingress networking.v1.IngressLoadBalancerIngress r
message networking.v1.IngressPortStatus
1 port int
2 protocol string
3 error string
message networking.v1.IngressRule
1 host string o
2 - networking.v1.IngressRuleValue i
message networking.v1.IngressRuleValue
1 http networking.v1.HTTPIngressRuleValue
message networking.v1.IngressServiceBackend
1 name string
2 port networking.v1.ServiceBackendPort
message networking.v1.IngressSpec
4 ingressClassName string
1 defaultBackend networking.v1.IngressBackend
2 tls networking.v1.IngressTLS r
3 rules networking.v1.IngressRule r
message networking.v1.IngressStatus
1 loadBalancer networking.v1.IngressLoadBalancerStatus
message networking.v1.IngressTLS
1 hosts string r
2 secretName string o
message networking.v1.NetworkPolicy
1 metadata meta.v1.ObjectMeta
2 spec networking.v1.NetworkPolicySpec
message networking.v1.NetworkPolicyEgressRule
1 ports networking.v1.NetworkPolicyPort r
2 to networking.v1.NetworkPolicyPeer r
message networking.v1.NetworkPolicyIngressRule
1 ports networking.v1.NetworkPolicyPort r
2 from networking.v1.NetworkPolicyPeer r
message networking.v1.NetworkPolicyPeer
1 podSelector meta.v1.LabelSelector
2 namespaceSelector meta.v1.LabelSelector
3 ipBlock networking.v1.IPBlock
message networking.v1.NetworkPolicyPort
1 protocol string
2 port IntOrString
3 endPort int
message networking.v1.NetworkPolicySpec
1 podSelector meta.v1.LabelSelector
2 ingress networking.v1.NetworkPolicyIngressRule r
3 egress networking.v1.NetworkPolicyEgressRule r
4 policyTypes string r
message networking.v1.ParentReference
1 group string o
2 resource string o
3 namespace string o
4 name string o
message networking.v1.ServiceBackendPort
1 name string o
2 number int o
message networking.v1.ServiceCIDR
1 metadata meta.v1.ObjectMeta
2 spec networking.v1.ServiceCIDRSpec
3 status networking.v1.ServiceCIDRStatus
message networking.v1.ServiceCIDRSpec
1 cidrs string r
message networking.v1.ServiceCIDRStatus
1 conditions meta.v1.Condition r
message policy.v1.Eviction
1 metadata meta.v1.ObjectMeta
2 deleteOptions meta.v1.DeleteOptions
message policy.v1.PodDisruptionBudget
1 metadata meta.v1.ObjectMeta
2 spec policy.v1.PodDisruptionBudgetSpec
3 status policy.v1.PodDisruptionBudgetStatus
message policy.v1.PodDisruptionBudgetSpec
1 minAvailable IntOrString
2 selector meta.v1.LabelSelector
3 maxUnavailable IntOrString
4 unhealthyPodEvictionPolicy string
message policy.v1.PodDisruptionBudgetStatus
1 observedGeneration int o
2 disruptedPods Time m
3 disruptionsAllowed int
4 currentHealthy int
5 desiredHealthy int
6 expectedPods int
7 conditions meta.v1.Condition r
message rbac.v1.AggregationRule
1 clusterRoleSelectors meta.v1.LabelSelector r
message rbac.v1.ClusterRole
1 metadata meta.v1.ObjectMeta
2 rules rbac.v1.PolicyRule rn
3 aggregationRule rbac.v1.AggregationRule
message rbac.v1.ClusterRoleBinding
1 metadata meta.v1.ObjectMeta
2 subjects rbac.v1.Subject r
3 roleRef rbac.v1.RoleRef
message rbac.v1.PolicyRule
1 verbs string rn
2 apiGroups string r
3 resources string r
4 resourceNames string r
5 nonResourceURLs string r
message rbac.v1.Role
1 metadata meta.v1.ObjectMeta
2 rules rbac.v1.PolicyRule rn
message rbac.v1.RoleBinding
1 metadata meta.v1.ObjectMeta
2 subjects rbac.v1.Subject r
3 roleRef rbac.v1.RoleRef
message rbac.v1.RoleRef
1 apiGroup string
2 kind string
3 name string
message rbac.v1.Subject
1 kind string
2 apiGroup string o
3 name string
4 namespace string o
message scheduling.v1.PriorityClass
1 metadata meta.v1.ObjectMeta
2 value int
3 globalDefault bool o
4 description string o
5 preemptionPolicy string
message scheduling.v1alpha3.TopologyConstraint
1 key string
message scheduling.v1alpha3.WorkloadPodGroupAllDisruptionMode
message scheduling.v1alpha3.WorkloadPodGroupBasicSchedulingPolicy
message scheduling.v1alpha3.WorkloadPodGroupDisruptionMode
1 single scheduling.v1alpha3.WorkloadPodGroupSingleDisruptionMode
2 all scheduling.v1alpha3.WorkloadPodGroupAllDisruptionMode
message scheduling.v1alpha3.WorkloadPodGroupGangSchedulingPolicy
1 minCount int
message scheduling.v1alpha3.WorkloadPodGroupResourceClaim
1 name string
2 resourceClaimName string
3 resourceClaimTemplateName string
message scheduling.v1alpha3.WorkloadPodGroupSchedulingConstraints
1 topology scheduling.v1alpha3.TopologyConstraint r
message scheduling.v1alpha3.WorkloadPodGroupSchedulingPolicy
1 basic scheduling.v1alpha3.WorkloadPodGroupBasicSchedulingPolicy
2 gang scheduling.v1alpha3.WorkloadPodGroupGangSchedulingPolicy
message scheduling.v1alpha3.WorkloadPodGroupSingleDisruptionMode
"""
