package registry

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"notifier/channels"
)

// The conformance suite runs over every registered type, so a new
// channel is tested by adding its line to Types.

func TestTypesAreListedOnce(t *testing.T) {
	var names []string
	for _, typ := range Types {
		if typ.Name == "" || typ.NewConfig == nil || typ.New == nil {
			t.Fatalf("type %q is incomplete: %+v", typ.Name, typ)
		}
		names = append(names, typ.Name)
		got, ok := Lookup(typ.Name)
		if !ok || got.Name != typ.Name {
			t.Errorf("Lookup(%q) = %q, %v", typ.Name, got.Name, ok)
		}
	}
	if !slices.IsSorted(names) || len(slices.Compact(slices.Clone(names))) != len(names) {
		t.Errorf("Types = %v, want sorted and each once", names)
	}
	if got := Names(); !slices.Equal(got, names) {
		t.Errorf("Names() = %v, want %v", got, names)
	}
	if _, ok := Lookup("carrier-pigeon"); ok {
		t.Error("Lookup found a type nobody registered")
	}
}

// option is one yaml key of a config struct.
type option struct {
	key   string
	field reflect.Value
}

// options are cfg's yaml keys, in field order.
func options(t *testing.T, cfg channels.Config) []option {
	t.Helper()
	v := reflect.ValueOf(cfg)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		t.Fatalf("NewConfig() = %T, want a non-nil pointer to a struct", cfg)
	}
	v = v.Elem()
	var out []option
	for i := range v.NumField() {
		key, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("yaml"), ",")
		if key == "" || key == "-" {
			t.Fatalf("%s: field %s has no yaml key: every field is an option", v.Type(), v.Type().Field(i).Name)
		}
		out = append(out, option{key, v.Field(i)})
	}
	return out
}

func find(opts []option, key string) (option, bool) {
	for _, o := range opts {
		if o.key == key {
			return o, true
		}
	}
	return option{}, false
}

// durations are the time.Duration options: timeouts, every one.
func durations(opts []option) []option {
	var out []option
	for _, o := range opts {
		if o.field.Type() == reflect.TypeFor[time.Duration]() {
			out = append(out, o)
		}
	}
	return out
}

func lines(err error) []string {
	if err == nil {
		return nil
	}
	return strings.Split(err.Error(), "\n")
}

func TestConformance(t *testing.T) {
	for _, typ := range Types {
		t.Run(typ.Name, func(t *testing.T) {
			cfg := typ.NewConfig()
			opts := options(t, cfg)
			if typ.NewConfig() == cfg {
				t.Error("NewConfig returns the same config twice: decodes would share it")
			}

			t.Run("docs cover every option", func(t *testing.T) {
				if typ.Doc == "" {
					t.Errorf("no description of the type")
				}
				for _, o := range opts {
					if typ.Options[o.key] == "" {
						t.Errorf("%s: no description", o.key)
					}
				}
				for key := range typ.Options {
					if _, ok := find(opts, key); !ok {
						t.Errorf("Options describes %s, which is not an option", key)
					}
				}
			})

			t.Run("an empty config decodes strictly", func(t *testing.T) {
				d := yaml.NewDecoder(strings.NewReader("{}\n"))
				d.KnownFields(true)
				if err := d.Decode(typ.NewConfig()); err != nil {
					t.Fatal(err)
				}
				d = yaml.NewDecoder(strings.NewReader("no_such_option: 1\n"))
				d.KnownFields(true)
				if err := d.Decode(typ.NewConfig()); err == nil {
					t.Error("an unknown option decoded")
				}
			})

			t.Run("Validate applies no defaults and reports every problem", func(t *testing.T) {
				zero := typ.NewConfig()
				base := lines(zero.Validate())
				if !reflect.DeepEqual(zero, typ.NewConfig()) {
					t.Errorf("Validate changed the empty config: %+v", zero)
				}
				bad := typ.NewConfig()
				ds := durations(options(t, bad))
				if len(ds) == 0 {
					t.Skip("no duration option to make a second problem with")
				}
				for _, o := range ds {
					o.field.SetInt(int64(-time.Second))
				}
				before := reflect.ValueOf(bad).Elem().Interface()
				got := lines(bad.Validate())
				if after := reflect.ValueOf(bad).Elem().Interface(); !reflect.DeepEqual(before, after) {
					t.Errorf("Validate changed the config: %+v, was %+v", after, before)
				}
				for _, l := range base {
					if !slices.Contains(got, l) {
						t.Errorf("with a negative timeout, %q is no longer reported: got %q", l, got)
					}
				}
				for _, o := range ds {
					named := slices.ContainsFunc(got, func(l string) bool {
						return strings.HasPrefix(strings.TrimPrefix(l, typ.Name+": "), o.key)
					})
					if !named {
						t.Errorf("%s: -1s not reported as a problem naming it first: %q", o.key, got)
					}
				}
				if len(got) != len(base)+len(ds) {
					t.Errorf("got %d problems, want %d: %q", len(got), len(base)+len(ds), got)
				}
			})

			t.Run("Lint", func(t *testing.T) {
				if err := typ.NewConfig().Lint(); err != nil {
					t.Errorf("Lint of the empty config: %v", err)
				}
				for _, o := range durations(opts) {
					c := typ.NewConfig()
					f, _ := find(options(t, c), o.key)
					f.field.SetInt(int64(20 * time.Millisecond))
					var a *channels.Advice
					if err := c.Lint(); !errors.As(err, &a) || a.Option != o.key || a.Check != "timeout" {
						t.Errorf("%s: 20ms: Lint() = %v, want timeout advice about %s", o.key, err, o.key)
					}
					f.field.SetInt(int64(20 * time.Second))
					if err := c.Lint(); err != nil {
						t.Errorf("%s: 20s: Lint() = %v", o.key, err)
					}
				}
			})

			t.Run("declared secrets and files are options", func(t *testing.T) {
				c := typ.NewConfig()
				copts := options(t, c)
				files := c.Files()
				var fileKeys []string
				last := -1
				for _, f := range files {
					fileKeys = append(fileKeys, f.Option)
					i := slices.IndexFunc(copts, func(o option) bool { return o.key == f.Option })
					if i < 0 {
						t.Errorf("file %s is not an option", f.Option)
						continue
					}
					if i < last {
						t.Errorf("Files() is not in the config's order at %s", f.Option)
					}
					last = i
					copts[i].field.SetString("probe")
					if f.Path == nil || *f.Path != "probe" {
						t.Errorf("file %s: Path does not point at the option's field", f.Option)
					}
				}
				for _, o := range copts {
					if strings.HasSuffix(o.key, "_file") && !slices.Contains(fileKeys, o.key) {
						t.Errorf("%s names a file but is not in Files()", o.key)
					}
				}
				for _, s := range c.Secrets() {
					if s.Inline == "" && s.File == "" {
						t.Errorf("an empty secret declared")
					}
					if s.Inline != "" {
						if o, ok := find(copts, s.Inline); !ok || o.field.Kind() != reflect.String {
							t.Errorf("inline secret %s is not a text option", s.Inline)
						}
					}
					if s.File != "" && !slices.Contains(fileKeys, s.File) {
						t.Errorf("secret file %s is not in Files()", s.File)
					}
					if s.Inline != "" && s.File != "" && s.File != s.Inline+"_file" {
						// lint's advice says "use <inline>_file"
						t.Errorf("secret %s is kept in %s, not %s_file", s.Inline, s.File, s.Inline)
					}
				}
			})

			t.Run("ResolveFiles", func(t *testing.T) {
				c := typ.NewConfig()
				files := c.Files()
				for i, f := range files {
					if i%2 == 0 {
						*f.Path = "keys/" + f.Option
					} else {
						*f.Path = "/etc/notifier/" + f.Option
					}
				}
				channels.ResolveFiles(c, "/srv/policies")
				for i, f := range c.Files() {
					want := "/srv/policies/keys/" + f.Option
					if i%2 == 1 {
						want = "/etc/notifier/" + f.Option
					}
					if *f.Path != want {
						t.Errorf("%s = %q, want %q", f.Option, *f.Path, want)
					}
				}
			})

			t.Run("New", func(t *testing.T) {
				if _, err := typ.New(wrongConfig{}); err == nil {
					t.Error("New accepted another type's config")
				}
				if _, err := typ.New(nil); err == nil {
					t.Error("New accepted nil")
				}
				zero := typ.NewConfig()
				if zero.Validate() != nil {
					if _, err := typ.New(zero); err == nil {
						t.Error("New built a config Validate refuses")
					}
					return
				}
				ch, err := typ.New(zero)
				if err != nil {
					t.Fatalf("New of a valid empty config: %v", err)
				}
				if err := ch.Close(); err != nil {
					t.Errorf("Close of an unused channel: %v", err)
				}
			})
		})
	}
}

// wrongConfig is a Config of no registered type.
type wrongConfig struct{}

func (wrongConfig) Validate() error                { return nil }
func (wrongConfig) Lint() error                    { return nil }
func (wrongConfig) Secrets() []channels.Secret     { return nil }
func (wrongConfig) Files() []channels.File         { return nil }
func (wrongConfig) Templates() []channels.Template { return nil }
