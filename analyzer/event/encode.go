package event

import "encoding/json"

// MarshalJSON writes the event with the contract's names, as the struct tags
// say, plus the required fields whose value is the zero one, which the tags'
// omitempty would drop: the text of a chat or post may be empty and the score
// of a signal may be 0, and the line must still be a valid event. An event
// built in code with Type and no TypeName gets the name of its Type.
func (e Event) MarshalJSON() ([]byte, error) {
	type tagged Event // the same fields and tags, without this method
	if e.TypeName == "" && e.Type != 0 {
		e.TypeName = e.Type.String()
	}
	b, err := json.Marshal(tagged(e))
	if err != nil {
		return nil, err
	}
	switch {
	case (e.Type == TypeChat || e.Type == TypePost) && e.Text == "":
		b = append(b[:len(b)-1], `,"text":""}`...)
	case e.Type == TypeSignal && e.Score == 0:
		b = append(b[:len(b)-1], `,"score":0}`...)
	}
	return b, nil
}
