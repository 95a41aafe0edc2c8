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

{{- /*
The agent's --netns-prefix: its pods' netns names in standalone mode and its
cgroups under cgroup.root (<prefix>system, <prefix>pods). The one the agent
ends up with: an extraArgs option (the command line wins), else extraConfig's
"netns-prefix", else netnsPrefix. The proxy joins <prefix>system with it.
*/ -}}
{{- define "sluice.netnsPrefix" -}}
{{- $p := .Values.netnsPrefix -}}
{{- if hasKey .Values.extraConfig "netns-prefix" -}}
{{- $p = index .Values.extraConfig "netns-prefix" | toString -}}
{{- end -}}
{{- /* extraArgs items are single "--option=value" words (the schema) */ -}}
{{- range .Values.extraArgs -}}
{{- if hasPrefix "--netns-prefix=" (toString .) -}}
{{- $p = trimPrefix "--netns-prefix=" (toString .) -}}
{{- end -}}
{{- end -}}
{{ $p }}
{{- end -}}

{{- /* the agent's system cgroup, which the separate proxy joins */ -}}
{{- define "sluice.systemCgroup" -}}
{{ trimSuffix "/" .Values.cgroup.root }}/{{ include "sluice.netnsPrefix" . }}system
{{- end -}}
