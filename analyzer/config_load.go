package analyzer

import (
	"fmt"
	"os"
)

// LoadConfig reads an analyzer configuration file as ParseConfig does; the
// errors name the file. It is how 'ronda serve' (its analyzer key),
// 'ronda replay --config' and 'ronda check-config' read one.
func LoadConfig(path string) (Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("analyzer config: %w", err)
	}
	c, err := ParseConfig(b)
	if err != nil {
		return Config{}, fmt.Errorf("analyzer config %s: %w", path, err)
	}
	return c, nil
}
