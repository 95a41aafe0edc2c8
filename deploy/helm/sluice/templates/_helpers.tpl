{{/* Names, labels and the image reference shared by every template. */}}

{{- define "sluice.selectorLabels" -}}
k8s-app: sluice
app.kubernetes.io/name: sluice
{{- end -}}

{{- define "sluice.labels" -}}
{{ include "sluice.selectorLabels" . }}
app.kubernetes.io/part-of: sluice
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end -}}

{{- define "sluice.image" -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ default .Chart.AppVersion .Values.image.tag }}
{{- end -}}
{{- end -}}

{{- define "sluice.pinDir" -}}
{{ trimSuffix "/" .Values.bpf.root }}/{{ .Values.bpf.pinDir }}
{{- end -}}

{{- define "sluice.metricsAddr" -}}
{{- if .Values.metrics.enabled -}}
{{ default "0.0.0.0" .Values.metrics.bindAddress }}:{{ .Values.metrics.port }}
{{- else -}}
off
{{- end -}}
{{- end -}}

{{- /* the separate proxy's DaemonSet: its own selector, never the agent's */ -}}
{{- define "sluice.proxySelectorLabels" -}}
k8s-app: sluice-proxy
app.kubernetes.io/name: sluice-proxy
{{- end -}}

{{- define "sluice.proxyLabels" -}}
{{ include "sluice.proxySelectorLabels" . }}
app.kubernetes.io/part-of: sluice
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end -}}

{{- /* the separate proxy's control socket, shared through runPath */ -}}
{{- define "sluice.proxyControl" -}}
{{ trimSuffix "/" .Values.runPath }}/sluice-proxy.sock
{{- end -}}
