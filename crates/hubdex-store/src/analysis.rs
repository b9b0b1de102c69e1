//! How text becomes index terms.
//!
//! One tokenizer serves every text field. It cuts text into runs of letters and digits, then:
//!
//! * Chinese, Japanese and Korean runs (Han, Hiragana, Katakana, Hangul), and Thai, Lao,
//!   Khmer and Myanmar ones, which are written without spaces, become overlapping character
//!   bigrams (`自然言語` → `自然`, `然言`, `言語`), so any two-character piece of a word finds
//!   it without a dictionary;
//! * other runs are words, and when indexing, a word that mixes cases or letters and digits
//!   also yields its parts (`HuggingFaceH4` → `huggingfaceh4`, `hugging`, `face`, `h`, `4`;
//!   `gsm8k` → `gsm8k`, `gsm`, `8`, `k`), so `hugging face` finds it. Queries keep words whole:
//!   the index holds both forms.
//!
//! Then terms are lowercased, folded to ASCII where possible (`café` → `cafe`), and stemmed
//! for English (`reviews` → `review`) in the fields that rank; tokens over 40 bytes are
//! dropped. Exact-name keys ([`key`]) are the same words unstemmed, joined by spaces.

use std::collections::HashMap;

use tantivy::tokenizer::{
    AsciiFoldingFilter, Language, LowerCaser, RawTokenizer, RemoveLongFilter, Stemmer,
    TextAnalyzer, Token, TokenFilter, TokenStream, Tokenizer,
};

/// The name the index registers its analyzer under (tantivy does not persist analyzers).
pub(crate) const ANALYZER: &str = "hubdex";
/// The name of the analyzer of the `initials` field ([`InitialsTokenizer`]).
pub(crate) const INITIALS: &str = "hubdex_initials";
/// Longest word start the `initials` field holds: a typed word this long or shorter is
/// looked up there; a longer one completes through the term dictionary.
pub(crate) const MAX_INITIALS: usize = 2;

/// Longest token kept, in bytes.
const MAX_TOKEN_BYTES: usize = 40;
/// Stems an indexing analyzer remembers ([`CachedStemmer`]) before it starts again empty.
const MAX_KEPT_STEMS: usize = 8_192;

/// English words that carry no meaning in a search for datasets. Dropped from the free text
/// of a query when it has other words ("questions about paragraphs of text" → questions,
/// paragraphs, text); indexed all the same, so phrases and all-stop-word queries still work.
/// Lucene's English list plus question words and the near-universal `dataset`.
const STOP_WORDS: &[&str] = &[
    "a", "about", "all", "an", "and", "any", "are", "as", "at", "be", "been", "but", "by", "can",
    "data", "dataset", "datasets", "do", "does", "for", "from", "has", "have", "how", "i", "if",
    "in", "into", "is", "it", "its", "me", "my", "need", "no", "not", "of", "on", "or", "some",
    "such", "that", "the", "their", "then", "there", "these", "they", "this", "to", "us", "want",
    "was", "we", "what", "which", "who", "will", "with", "would", "you",
];

/// True for a stop word (given lowercased).
pub(crate) fn is_stop_word(word: &str) -> bool {
    STOP_WORDS.binary_search(&word).is_ok()
}

/// Scripts written without spaces between words: indexed as character bigrams.
fn is_bigram_script(c: char) -> bool {
    matches!(c,
        '\u{0E00}'..='\u{0EFF}'   // Thai, Lao
        | '\u{1000}'..='\u{109F}' // Myanmar
        | '\u{1100}'..='\u{11FF}' // Hangul Jamo
        | '\u{1780}'..='\u{17FF}' // Khmer
        | '\u{3040}'..='\u{30FF}' // Hiragana, Katakana
        | '\u{3130}'..='\u{318F}' // Hangul compatibility Jamo
        | '\u{31F0}'..='\u{31FF}' // Katakana extensions
        | '\u{3400}'..='\u{4DBF}' // CJK extension A
        | '\u{4E00}'..='\u{9FFF}' // CJK unified ideographs
        | '\u{AC00}'..='\u{D7AF}' // Hangul syllables
        | '\u{F900}'..='\u{FAFF}' // CJK compatibility ideographs
        | '\u{FF66}'..='\u{FF9F}' // half-width Katakana
        | '\u{20000}'..='\u{2FFFF}' // CJK extensions B and later
    )
}

/// True when `text` is written in a script indexed as bigrams (its first character says).
pub(crate) fn is_bigram_text(text: &str) -> bool {
    text.chars().next().is_some_and(is_bigram_script)
}

/// Characters that belong to a word: letters, digits, and the combining marks that scripts
/// such as Devanagari and Arabic write inside words (`char::is_alphanumeric` says no to them).
fn is_word_char(c: char) -> bool {
    c.is_alphanumeric()
        || is_bigram_script(c)
        || matches!(c,
            '\u{0300}'..='\u{036F}'   // combining diacritics
            | '\u{0610}'..='\u{061A}' // Arabic marks
            | '\u{064B}'..='\u{065F}'
            | '\u{0670}'
            | '\u{06D6}'..='\u{06ED}'
            | '\u{0900}'..='\u{0963}' // Devanagari up to the danda
            | '\u{0966}'..='\u{0DFF}' // the other Indic scripts
        )
}

/// Splits runs of letters and digits into tokens (see the module docs).
#[derive(Clone, Debug)]
pub(crate) struct WordTokenizer {
    /// Also yield the parts of camelCase and letter-digit words (when indexing).
    parts: bool,
    /// The tokens of the last text, kept so the next text reuses their strings (indexing
    /// tokenizes every field of every record): with them and no part-finding for plain
    /// words, analysing the ids and descriptions of 1,000 records went from 7.4-8.6 ms to
    /// 4.2-4.7 ms.
    kept: Vec<Token>,
}

impl WordTokenizer {
    fn new(parts: bool) -> Self {
        Self {
            parts,
            kept: Vec::new(),
        }
    }
}

/// Tokens computed up front (the texts are short), in a tokenizer's buffer.
pub(crate) struct Tokens<'a> {
    tokens: &'a mut [Token],
    next: usize,
}

impl TokenStream for Tokens<'_> {
    fn advance(&mut self) -> bool {
        self.next += 1;
        self.next <= self.tokens.len()
    }

    fn token(&self) -> &Token {
        &self.tokens[self.next - 1]
    }

    fn token_mut(&mut self) -> &mut Token {
        &mut self.tokens[self.next - 1]
    }
}

/// Where a tokenizer writes a text's tokens: over the ones of the previous text first.
struct Sink<'a> {
    tokens: &'a mut Vec<Token>,
    len: usize,
}

impl Sink<'_> {
    fn push(&mut self, text: &str, start: usize, end: usize, position: usize) {
        match self.tokens.get_mut(self.len) {
            Some(kept) => {
                kept.offset_from = start;
                kept.offset_to = end;
                kept.position = position;
                kept.position_length = 1;
                kept.text.clear();
                kept.text.push_str(&text[start..end]);
            }
            None => self.tokens.push(Token {
                offset_from: start,
                offset_to: end,
                position,
                text: text[start..end].to_string(),
                position_length: 1,
            }),
        }
        self.len += 1;
    }
}

impl Tokenizer for WordTokenizer {
    type TokenStream<'a> = Tokens<'a>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> Tokens<'a> {
        let parts = self.parts;
        let mut out = Sink {
            tokens: &mut self.kept,
            len: 0,
        };
        let mut position = 0;
        let mut run_start = None;
        for (i, c) in text
            .char_indices()
            .chain(std::iter::once((text.len(), ' ')))
        {
            match (run_start, is_word_char(c)) {
                (None, true) => run_start = Some(i),
                (Some(start), false) => {
                    run(parts, text, start, i, &mut position, &mut out);
                    run_start = None;
                }
                _ => {}
            }
        }
        let len = out.len;
        Tokens {
            tokens: &mut self.kept[..len],
            next: 0,
        }
    }
}

/// Tokenizes one run of word characters, `text[start..end]`.
fn run(parts: bool, text: &str, start: usize, end: usize, position: &mut usize, out: &mut Sink) {
    let mut segment_start = start;
    let mut bigram = None;
    for (i, c) in text[start..end]
        .char_indices()
        .map(|(i, c)| (start + i, c))
        .chain(std::iter::once((end, ' ')))
    {
        let is_bigram = (i < end).then(|| is_bigram_script(c));
        if is_bigram != bigram && bigram.is_some() {
            match bigram {
                Some(true) => bigrams(text, segment_start, i, position, out),
                _ => word(parts, text, segment_start, i, position, out),
            }
            segment_start = i;
        }
        bigram = is_bigram;
    }
}

/// A word, and with `parts`, its parts.
fn word(parts: bool, text: &str, start: usize, end: usize, position: &mut usize, out: &mut Sink) {
    out.push(text, start, end, *position);
    let cuts = if parts && !whole(&text[start..end]) {
        self::parts(&text[start..end])
    } else {
        Vec::new()
    };
    if cuts.len() > 1 {
        for (k, (from, to)) in cuts.iter().enumerate() {
            out.push(text, start + from, start + to, *position + k);
        }
        *position += cuts.len();
    } else {
        *position += 1;
    }
}

/// True for a word [`parts`] would not cut: ASCII letters with at most the first one
/// upper-case (most words of a description), or ASCII digits.
fn whole(word: &str) -> bool {
    let bytes = word.as_bytes();
    let letters = bytes.first().is_some_and(u8::is_ascii_alphabetic)
        && bytes.iter().skip(1).all(u8::is_ascii_lowercase);
    letters || bytes.iter().all(u8::is_ascii_digit)
}

/// Overlapping character pairs of `text[start..end]`; one character stays a unigram.
fn bigrams(text: &str, start: usize, end: usize, position: &mut usize, out: &mut Sink) {
    let offsets: Vec<usize> = text[start..end]
        .char_indices()
        .map(|(i, _)| start + i)
        .chain(std::iter::once(end))
        .collect();
    if offsets.len() == 2 {
        out.push(text, start, end, *position);
        *position += 1;
        return;
    }
    for pair in offsets.windows(3) {
        out.push(text, pair[0], pair[2], *position);
        *position += 1;
    }
}

/// Byte ranges of the parts of a word: cut between lower and upper case (`goEmotions`),
/// before the last capital of a capital run followed by a lower-case letter (`HTMLParser`),
/// and between letters and digits (`gsm8k`).
fn parts(word: &str) -> Vec<(usize, usize)> {
    let chars: Vec<(usize, char)> = word.char_indices().collect();
    let mut cuts = vec![0];
    for i in 1..chars.len() {
        let (prev, cur) = (chars[i - 1].1, chars[i].1);
        let next = chars.get(i + 1).map(|(_, c)| *c);
        let case_change = prev.is_lowercase() && cur.is_uppercase();
        let acronym_end =
            prev.is_uppercase() && cur.is_uppercase() && next.is_some_and(char::is_lowercase);
        let digit_change = prev.is_numeric() != cur.is_numeric();
        if case_change || acronym_end || digit_change {
            cuts.push(chars[i].0);
        }
    }
    cuts.push(word.len());
    cuts.windows(2).map(|w| (w[0], w[1])).collect()
}

/// The first one and two characters of every word [`index_analyzer`] makes of a name, as
/// terms: the first keystrokes of a word are one term lookup instead of a walk over every
/// name term that starts so (tens of thousands at the Hub's scale). Words of scripts written
/// without spaces are left out: their first keystroke is a bigram piece of the text.
#[derive(Clone)]
pub(crate) struct InitialsTokenizer {
    words: TextAnalyzer,
    kept: Vec<Token>,
}

impl InitialsTokenizer {
    /// The tokenizer the index registers under [`INITIALS`].
    pub(crate) fn new() -> Self {
        Self {
            words: index_analyzer(),
            kept: Vec::new(),
        }
    }
}

impl Tokenizer for InitialsTokenizer {
    type TokenStream<'a> = Tokens<'a>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> Tokens<'a> {
        let mut starts: Vec<String> = Vec::new();
        self.words.token_stream(text).process(&mut |token| {
            if is_bigram_text(&token.text) {
                return;
            }
            for (at, c) in token.text.char_indices().take(MAX_INITIALS) {
                starts.push(token.text[..at + c.len_utf8()].to_string());
            }
        });
        starts.sort();
        starts.dedup();
        let mut out = Sink {
            tokens: &mut self.kept,
            len: 0,
        };
        for (position, start) in starts.iter().enumerate() {
            out.push(start, 0, start.len(), position);
        }
        let len = out.len;
        Tokens {
            tokens: &mut self.kept[..len],
            next: 0,
        }
    }
}

/// The analyzer of the ranking fields when indexing: words and their parts, stemmed (with
/// the stems remembered: indexing stems the same words over and over).
pub(crate) fn index_analyzer() -> TextAnalyzer {
    word_analyzer(true).filter(CachedStemmer).build()
}

/// The analyzer of query words: whole words, stemmed like the index.
pub(crate) fn query_analyzer() -> TextAnalyzer {
    word_analyzer(false).filter(stemmer()).build()
}

/// Words, lowercased and folded; with `parts`, also the parts of mixed words.
fn word_analyzer(parts: bool) -> tantivy::tokenizer::TextAnalyzerBuilder<impl Tokenizer> {
    TextAnalyzer::builder(WordTokenizer::new(parts))
        .filter(RemoveLongFilter::limit(MAX_TOKEN_BYTES))
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
}

/// The stemmer of every analyzer that stems.
fn stemmer() -> Stemmer {
    Stemmer::new(Language::English)
}

/// [`stemmer`], remembering up to [`MAX_KEPT_STEMS`] stems per analyzer (each indexing
/// thread has one per field): a catalog's text is mostly the same few thousand words, and
/// a Snowball run costs more than a lookup. Analysing the ids and descriptions of 1,000
/// records took 4.2-7.1 ms with the plain stemmer, 3.0-3.1 ms with this one.
#[derive(Clone)]
struct CachedStemmer;

impl TokenFilter for CachedStemmer {
    type Tokenizer<T: Tokenizer> = CachedStemmerFilter<T>;

    fn transform<T: Tokenizer>(self, tokenizer: T) -> CachedStemmerFilter<T> {
        CachedStemmerFilter {
            inner: tokenizer,
            stems: HashMap::new(),
            stemmer: TextAnalyzer::builder(RawTokenizer::default())
                .filter(stemmer())
                .build(),
        }
    }
}

#[derive(Clone)]
struct CachedStemmerFilter<T> {
    inner: T,
    /// Word → stem.
    stems: HashMap<String, String>,
    /// Stems one word, for the words not kept yet.
    stemmer: TextAnalyzer,
}

impl<T: Tokenizer> Tokenizer for CachedStemmerFilter<T> {
    type TokenStream<'a> = CachedStemmerStream<'a, T::TokenStream<'a>>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> Self::TokenStream<'a> {
        CachedStemmerStream {
            tail: self.inner.token_stream(text),
            stems: &mut self.stems,
            stemmer: &mut self.stemmer,
        }
    }
}

struct CachedStemmerStream<'a, T> {
    tail: T,
    stems: &'a mut HashMap<String, String>,
    stemmer: &'a mut TextAnalyzer,
}

impl<T: TokenStream> TokenStream for CachedStemmerStream<'_, T> {
    fn advance(&mut self) -> bool {
        if !self.tail.advance() {
            return false;
        }
        let token = self.tail.token_mut();
        if is_its_own_stem(&token.text) {
            return true;
        }
        if let Some(stem) = self.stems.get(&token.text) {
            token.text.clone_from(stem);
            return true;
        }
        let mut stem = None;
        self.stemmer
            .token_stream(&token.text)
            .process(&mut |stemmed| stem = Some(stemmed.text.clone()));
        let Some(stem) = stem else {
            return true;
        };
        if self.stems.len() >= MAX_KEPT_STEMS {
            self.stems.clear();
        }
        let word = std::mem::replace(&mut token.text, stem.clone());
        self.stems.insert(word, stem);
        true
    }

    fn token(&self) -> &Token {
        self.tail.token()
    }

    fn token_mut(&mut self) -> &mut Token {
        self.tail.token_mut()
    }
}

/// True for the words the English stemmer leaves as they are whatever they are: of two
/// letters or less (its first rule), or digits only (it strips letters). They skip the
/// stemmer and the cache: in the embedded snapshot's text (ids, names, descriptions, tag
/// values) they were a third of the cache misses (numbers, versions, sizes), each a Snowball
/// run and four allocations; analysing that text went from 510-523 to 455-477 ms.
fn is_its_own_stem(word: &str) -> bool {
    word.chars().nth(2).is_none() || word.bytes().all(|b| b.is_ascii_digit())
}

/// The whole words of `text`, lowercased and folded but not stemmed.
pub(crate) fn plain_words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    word_analyzer(false)
        .build()
        .token_stream(text)
        .process(&mut |token| words.push(token.text.clone()));
    words
}

/// The exact-match key of a name: its plain words joined by spaces, so `SQuAD v2`,
/// `squad_v2` and `Squad-V2` share the key `squad v2`.
pub(crate) fn key(text: &str) -> String {
    plain_words(text).join(" ")
}

/// Terms of `text` as `analyzer` makes them.
pub(crate) fn terms(analyzer: &mut TextAnalyzer, text: &str) -> Vec<String> {
    let mut terms = Vec::new();
    analyzer
        .token_stream(text)
        .process(&mut |token| terms.push(token.text.clone()));
    terms
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index_terms(text: &str) -> Vec<(String, usize)> {
        let mut out = Vec::new();
        index_analyzer()
            .token_stream(text)
            .process(&mut |t| out.push((t.text.clone(), t.position)));
        out
    }

    fn texts(text: &str) -> Vec<String> {
        index_terms(text).into_iter().map(|(t, _)| t).collect()
    }

    /// The words that skip the stemmer must be the ones it would leave alone.
    #[test]
    fn words_that_skip_the_stemmer_are_their_own_stems() {
        let mut stem = TextAnalyzer::builder(RawTokenizer::default())
            .filter(stemmer())
            .build();
        let letters: Vec<char> = ('a'..='z').chain(['é', 'ß', '한', '日', 'я']).collect();
        let mut words: Vec<String> = letters.iter().map(char::to_string).collect();
        for a in &letters {
            for b in &letters {
                words.push(format!("{a}{b}"));
            }
        }
        words.extend(["0", "7", "42", "2024", "000123", "3000000000000"].map(String::from));
        for word in words {
            assert!(is_its_own_stem(&word), "{word}");
            assert_eq!(
                terms(&mut stem, &word),
                std::slice::from_ref(&word),
                "{word}"
            );
        }
        for word in ["datasets", "v2s", "2024s", "abc"] {
            assert!(!is_its_own_stem(word), "{word}");
        }
    }

    #[test]
    fn stop_words_are_sorted_for_binary_search() {
        assert!(STOP_WORDS.windows(2).all(|w| w[0] < w[1]));
        assert!(is_stop_word("about") && !is_stop_word("squad"));
    }

    #[test]
    fn ids_yield_their_parts() {
        assert_eq!(
            texts("HuggingFaceH4/ultrachat_200k"),
            [
                "huggingfaceh4",
                "hug",
                "face",
                "h",
                "4",
                "ultrachat",
                "200k",
                "200",
                "k"
            ]
        );
        assert_eq!(texts("gsm8k"), ["gsm8k", "gsm", "8", "k"]);
        assert_eq!(texts("HTMLParser"), ["htmlparser", "html", "parser"]);
        assert_eq!(texts("squad_v2"), ["squad", "v2", "v", "2"]);
        // Parts share the word's first position; what follows comes after the last part.
        let positions: Vec<usize> = index_terms("GoEmotions data").iter().map(|t| t.1).collect();
        assert_eq!(positions, [0, 0, 1, 2]);
    }

    #[test]
    fn queries_keep_words_whole_and_stem_like_the_index() {
        let mut query = query_analyzer();
        assert_eq!(
            terms(&mut query, "GoEmotions reviews"),
            ["goemot", "review"]
        );
        assert!(texts("GoEmotions reviews").contains(&"goemot".to_string()));
        assert_eq!(terms(&mut query, "Café"), ["cafe"]);
    }

    #[test]
    fn a_tokenizer_reused_for_a_shorter_text_yields_only_its_tokens() {
        let mut analyzer = index_analyzer();
        let long = terms(&mut analyzer, "GoEmotions reviews of 自然言語 movies");
        assert_eq!(terms(&mut analyzer, "gsm8k"), ["gsm8k", "gsm", "8", "k"]);
        assert_eq!(
            terms(&mut analyzer, "GoEmotions reviews of 自然言語 movies"),
            long
        );
        let mut initials = TextAnalyzer::from(InitialsTokenizer::new());
        assert_eq!(
            terms(&mut initials, "Squad Reviews"),
            ["r", "re", "s", "sq"]
        );
        assert_eq!(terms(&mut initials, "imdb"), ["i", "im"]);
    }

    #[test]
    fn remembered_stems_are_the_stems() {
        // More distinct words than an analyzer keeps, each seen twice (the second time from
        // what it remembers, unless it had to forget), in one analyzer, as in a segment.
        let letters = |mut n: usize| {
            let mut word = String::from("walk");
            while n > 0 {
                word.push(char::from(b'a' + (n % 26) as u8));
                n /= 26;
            }
            word + "ings"
        };
        let words: Vec<String> = (0..MAX_KEPT_STEMS + 500)
            .map(letters)
            .chain(["reviews", "questions", "classification"].map(String::from))
            .collect();
        assert_eq!(
            words.iter().collect::<std::collections::HashSet<_>>().len(),
            words.len()
        );
        let text = [words.join(" "), words.join(" ")].join(" ");
        let mut index = index_analyzer();
        let mut query = query_analyzer();
        assert_eq!(terms(&mut index, &text), terms(&mut query, &text));
        assert_eq!(
            terms(&mut index, "reviews questions classification"),
            ["review", "question", "classif"]
        );
    }

    #[test]
    fn scripts_without_spaces_become_bigrams() {
        assert_eq!(texts("벤치마크"), ["벤치", "치마", "마크"]);
        assert_eq!(texts("自然言語 処"), ["自然", "然言", "言語", "処"]);
        assert_eq!(texts("GPT4中文"), ["gpt4", "gpt", "4", "中文"]);
        let mut query = query_analyzer();
        assert_eq!(terms(&mut query, "한국어"), ["한국", "국어"]);
    }

    #[test]
    fn marks_inside_words_keep_them_whole() {
        assert_eq!(plain_words("हिन्दी भाषा"), ["हिन्दी", "भाषा"]);
        assert_eq!(plain_words("naïve café"), ["naive", "cafe"]);
    }

    #[test]
    fn keys_ignore_case_and_punctuation() {
        assert_eq!(key("SQuAD v2"), "squad v2");
        assert_eq!(key("squad_v2"), "squad v2");
        assert_eq!(key("rajpurkar/squad"), "rajpurkar squad");
        assert_eq!(key("  --  "), "");
    }
}
