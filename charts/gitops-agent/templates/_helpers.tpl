{{/* Chart name, truncated to the 63 characters a label value allows. */}}
{{- define "gitops-agent.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name: the release name, prefixed to the chart name unless it already contains it. */}}
{{- define "gitops-agent.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* Name of cluster-scoped objects: unique per release namespace too. */}}
{{- define "gitops-agent.clusterName" -}}
{{- printf "%s-%s" (include "gitops-agent.fullname" .) .Release.Namespace | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "gitops-agent.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "gitops-agent.selectorLabels" -}}
app.kubernetes.io/name: {{ include "gitops-agent.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "gitops-agent.labels" -}}
helm.sh/chart: {{ include "gitops-agent.chart" . }}
{{ include "gitops-agent.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "gitops-agent.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "gitops-agent.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "gitops-agent.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* pollInterval in seconds: 60, "60", "60s", "5m" or "1h". */}}
{{- define "gitops-agent.pollSeconds" -}}
{{- $v := toString .Values.pollInterval }}
{{- if hasSuffix "h" $v }}{{ mul (trimSuffix "h" $v | atoi) 3600 }}
{{- else if hasSuffix "m" $v }}{{ mul (trimSuffix "m" $v | atoi) 60 }}
{{- else }}{{ trimSuffix "s" $v | atoi }}
{{- end }}
{{- end }}

{{/* Git credentials to use: "token", "ssh", or "" (no secret configured). */}}
{{- define "gitops-agent.gitAuth" -}}
{{- if .Values.git.existingSecret }}
{{- if .Values.git.auth }}{{ .Values.git.auth }}
{{- else if hasPrefix "https://" .Values.repo.url }}token
{{- else }}ssh
{{- end }}
{{- end }}
{{- end }}

{{/*
The agent's permissions in a target namespace: the kinds it renders and applies (ServiceAccounts
too: manifests/ may hold the identity a deployment runs as), what it reads for health, and events.
Deliberately no Roles/RoleBindings: an agent that can write RBAC can grant itself anything.
*/}}
{{- define "gitops-agent.targetRules" -}}
- apiGroups: ["apps"]
  resources: ["deployments", "statefulsets"]
  verbs: ["get", "list", "watch", "create", "update", "patch", "delete"]
- apiGroups: [""]
  resources: ["services", "configmaps", "secrets", "serviceaccounts"]
  verbs: ["get", "list", "watch", "create", "update", "patch", "delete"]
- apiGroups: ["networking.k8s.io"]
  resources: ["ingresses", "networkpolicies"]
  verbs: ["get", "list", "watch", "create", "update", "patch", "delete"]
- apiGroups: ["autoscaling"]
  resources: ["horizontalpodautoscalers"]
  verbs: ["get", "list", "watch", "create", "update", "patch", "delete"]
- apiGroups: ["policy"]
  resources: ["poddisruptionbudgets"]
  verbs: ["get", "list", "watch", "create", "update", "patch", "delete"]
{{- /* Custom resources of deployments with `routing: gateway` / `autoscaling.mode: keda`. */}}
- apiGroups: ["gateway.networking.k8s.io"]
  resources: ["httproutes"]
  verbs: ["get", "list", "watch", "create", "update", "patch", "delete"]
- apiGroups: ["keda.sh"]
  resources: ["scaledobjects"]
  verbs: ["get", "list", "watch", "create", "update", "patch", "delete"]
- apiGroups: ["discovery.k8s.io"]
  resources: ["endpointslices"]
  verbs: ["get", "list", "watch"]
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["get", "list", "watch"]
{{- /* Claims: read for health; created and deleted only to move a managed Postgres's volume. */}}
- apiGroups: [""]
  resources: ["persistentvolumeclaims"]
  verbs: ["get", "list", "watch", "create", "delete"]
{{- /* The UI's workload view: a pod's log tail, and the Events of the deployment's objects. */}}
- apiGroups: [""]
  resources: ["pods/log"]
  verbs: ["get"]
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create", "patch", "list"]
- apiGroups: ["events.k8s.io"]
  resources: ["events"]
  verbs: ["create", "patch"]
{{- end }}

{{/* In the release (state) namespace: inventories, seed secret, leader-election lease, events. */}}
{{- define "gitops-agent.stateRules" -}}
- apiGroups: [""]
  resources: ["configmaps", "secrets"]
  verbs: ["get", "list", "watch", "create", "update", "patch", "delete"]
- apiGroups: ["coordination.k8s.io"]
  resources: ["leases"]
  verbs: ["get", "list", "watch", "create", "update", "patch", "delete"]
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create", "patch"]
- apiGroups: ["events.k8s.io"]
  resources: ["events"]
  verbs: ["create", "patch"]
{{- end }}

{{/*
"true" when notifications or commit statuses are configured ("" otherwise); fails on a commit status
provider without its token Secret.
*/}}
{{- define "gitops-agent.notifications" -}}
{{- $cs := .Values.notifications.commitStatus -}}
{{- if and $cs.provider (not $cs.existingSecret) -}}
{{- fail "notifications.commitStatus.existingSecret is required with a provider (a Secret with key `token`)" -}}
{{- end -}}
{{- if or .Values.notifications.targets $cs.provider -}}true{{- end -}}
{{- end }}
