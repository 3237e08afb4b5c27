module notifier

go 1.26

require (
	github.com/PagerDuty/go-pagerduty v1.8.0
	github.com/expr-lang/expr v1.17.8
	github.com/slack-go/slack v0.35.0
	go.yaml.in/yaml/v3 v3.0.6
)

require (
	github.com/google/go-querystring v1.1.0 // indirect
	github.com/gorilla/websocket v1.5.3 // indirect
)
