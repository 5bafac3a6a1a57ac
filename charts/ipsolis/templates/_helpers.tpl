{{- define "ipsolis.labels" -}}
app.kubernetes.io/part-of: ipsolis
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
{{- end -}}
{{- define "ipsolis.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag }}
{{- end -}}
