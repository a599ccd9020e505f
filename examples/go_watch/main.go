// Command go_watch prints every VM generation change genidd reports. It uses
// only Go's standard library: a small Server-Sent Events reader that follows
// the standard (fields until a blank line, comment lines ignored, retry: and
// Last-Event-ID honoured).
//
//	go run ./examples/go_watch [BASE_URL] [EVENTS]
//
// BASE_URL defaults to http://127.0.0.1:8080; with EVENTS it exits after that
// many generation events (the current state counts as the first). A read
// token, when genidd asks for one, comes from $GENIDD_TOKEN.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// event is one dispatched Server-Sent Event.
type event struct {
	name, id, data string
}

// state holds the members of genidd's generation JSON that this example prints.
type state struct {
	Generation uint64 `json:"generation"`
	Seq        uint64 `json:"seq"`
	Instance   string `json:"instance"`
}

// stream reads events from one connection and hands each to handle until
// handle returns false or the connection ends. It keeps lastID and retry up
// to date, as EventSource does.
func stream(url, token string, lastID *string, retry *time.Duration, handle func(event) bool) error {
	request, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	request.Header.Set("Accept", "text/event-stream")
	if *lastID != "" {
		request.Header.Set("Last-Event-ID", *lastID)
	}
	if token != "" {
		request.Header.Set("Authorization", "Bearer "+token)
	}
	response, err := http.DefaultClient.Do(request)
	if err != nil {
		return err
	}
	defer response.Body.Close()
	if response.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, response.Status)
	}
	lines := bufio.NewScanner(response.Body)
	var name, id, data string
	var hasData bool
	for lines.Scan() {
		line := strings.TrimSuffix(lines.Text(), "\r")
		if line == "" { // a blank line dispatches the event, if it has data
			if hasData && !handle(event{name: name, id: id, data: data}) {
				return nil
			}
			name, id, data, hasData = "", *lastID, "", false
			continue
		}
		if strings.HasPrefix(line, ":") { // a comment, such as genidd's keepalive
			continue
		}
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "event":
			name = value
		case "id":
			id, *lastID = value, value
		case "data":
			if hasData {
				data += "\n"
			}
			data, hasData = data+value, true
		case "retry":
			if milliseconds, err := strconv.Atoi(value); err == nil {
				*retry = time.Duration(milliseconds) * time.Millisecond
			}
		}
	}
	if err := lines.Err(); err != nil {
		return err
	}
	return fmt.Errorf("%s: the stream ended", url)
}

func main() {
	base := "http://127.0.0.1:8080"
	if len(os.Args) > 1 {
		base = os.Args[1]
	}
	remaining := -1
	if len(os.Args) > 2 {
		count, err := strconv.Atoi(os.Args[2])
		if err != nil {
			fmt.Fprintln(os.Stderr, "EVENTS must be a number")
			os.Exit(2)
		}
		remaining = count
	}
	lastID, retry := "", 2*time.Second
	for remaining != 0 {
		err := stream(base+"/v1/events", os.Getenv("GENIDD_TOKEN"), &lastID, &retry, func(e event) bool {
			switch e.name {
			case "generation":
				var current state
				if err := json.Unmarshal([]byte(e.data), &current); err != nil {
					fmt.Fprintln(os.Stderr, "unreadable state:", err)
					return true
				}
				fmt.Printf("seq=%d generation=%d id=%s\n", current.Seq, current.Generation, e.id)
				remaining--
			case "clock-disruption":
				fmt.Println("clock disruption:", e.data)
			}
			return remaining != 0
		})
		if remaining == 0 {
			break
		}
		fmt.Fprintf(os.Stderr, "reconnecting in %s: %v\n", retry, err)
		time.Sleep(retry)
	}
}
