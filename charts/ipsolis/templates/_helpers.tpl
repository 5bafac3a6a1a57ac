{{- define "ipsolis.labels" -}}
app.kubernetes.io/part-of: ipsolis
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
{{- end -}}

{{/*
Selector labels of one component: ipsolis.selector (dict "root" . "component" "api"). A
Deployment's selector is immutable: these stay what chart 0.1.0 used, so upgrades from it work
(test/install/helm.test.ts). One release per namespace (the operator owns its namespace).
*/}}
{{- define "ipsolis.selector" -}}
app.kubernetes.io/name: ipsolis-{{ .component }}
{{- end -}}

{{- define "ipsolis.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{/* The pod-level security context of every ipsolis pod. */}}
{{- define "ipsolis.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* The container-level security context of every ipsolis container. */}}
{{- define "ipsolis.securityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop: ["ALL"]
{{- end -}}

{{/* env entry reading one key of the database Secret: ipsolis.dbEnv (dict "root" . "name" "X" "key" "url") */}}
{{- define "ipsolis.dbEnv" -}}
- name: {{ .name }}
  valueFrom:
    secretKeyRef:
      name: {{ .root.Values.database.existingSecret }}
      key: {{ .key }}
{{- end -}}
