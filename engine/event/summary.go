package event

import (
	"fmt"
	"strings"
)

// Summary is the one line an on-call engineer reads first: what happened,
// where. Channels put it in PagerDuty's summary, Slack's header and the
// syslog line.
func Summary(ev *Event) string {
	var s string
	switch ev.Source + "/" + ev.Kind {
	case "pacemaker/node":
		if ev.OK {
			s = fmt.Sprintf("node %s is a cluster member again", ev.Node)
		} else {
			s = fmt.Sprintf("node %s lost", ev.Node)
		}
	case "pacemaker/fencing":
		verdict := "succeeded"
		if !ev.OK {
			verdict = fmt.Sprintf("FAILED (rc=%d)", ev.RC)
		}
		s = fmt.Sprintf("fencing of %s %s: %s", ev.Node, verdict, ev.Desc)
	case "pacemaker/resource":
		verdict := "ok"
		if !ev.OK {
			verdict = fmt.Sprintf("failed: %s (rc=%d, status=%d)", ev.Desc, ev.RC, ev.Status)
		}
		s = fmt.Sprintf("resource %s %s on %s %s", ev.Rsc, ev.Task, ev.Node, verdict)
	case "pacemaker/attribute":
		s = fmt.Sprintf("attribute %s on %s set to %q", ev.AttributeName, ev.Node, ev.AttributeValue)
	default:
		what := ev.Name
		if what == "" {
			what = ev.EventType
		}
		if what == "" {
			what = ev.Message
		}
		s = what
		if ev.Node != "" {
			s += " on " + ev.Node
		}
	}
	if c := clusterLabel(ev); c != "" {
		s += " (" + c + ")"
	}
	return strings.Join(strings.Fields(s), " ")
}

func clusterLabel(ev *Event) string {
	switch {
	case ev.Cluster != "":
		return "cluster " + ev.Cluster
	case ev.ClusterID != 0:
		return fmt.Sprintf("cluster %d", ev.ClusterID)
	}
	return ""
}
