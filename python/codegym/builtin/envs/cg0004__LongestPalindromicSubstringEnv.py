import gymnasium
import ast
import json


def _require_int(value, name):
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"parameter '{name}' must be an integer")
    return value


class LongestPalindromicSubstringEnv(gymnasium.Env):
    """Find the length of the longest palindromic substring of a string: a contiguous piece that
    reads the same forwards and backwards (any single character has length 1). Observe shows the
    string; expand around odd and even centres with ExpandAroundCenter, keep the maximum with
    RecordCandidate and GetBest, and submit the length (not the substring) as an integer with
    Done."""
    def __init__(self, env_str: str = None):
        super().__init__()
        self.OBSERVE = 0
        self.EXPAND_AROUND_CENTER = 1
        self.RECORD_CANDIDATE = 2
        self.GET_BEST = 3
        self.DONE = 4
        self.func_mapping = {
            "Observe": self.OBSERVE,
            "ExpandAroundCenter": self.EXPAND_AROUND_CENTER,
            "RecordCandidate": self.RECORD_CANDIDATE,
            "GetBest": self.GET_BEST,
            "Done": self.DONE,
        }
        if env_str is not None:
            options = ast.literal_eval(env_str.split("@", 1)[1])
            self.reset(options)
        else:
            self.reset()

    @property
    def finished(self) -> bool:
        return self._done

    @property
    def reward(self):
        return float(self._reward)

    @staticmethod
    def from_env_str(env_str: str):
        prefix = "LongestPalindromicSubstringEnv@"
        if not env_str.startswith(prefix):
            return None
        return LongestPalindromicSubstringEnv(env_str=env_str)

    def reset(self, options: dict = {}):
        if options is None:
            options = {}
        self.s = str(options.get("s", ""))
        self.best = 0
        self._reward = 0
        self._done = False
        self.step_count = 0
        return "Environment has been reset."

    def get_ref_answer(self):
        """The reference answer computed directly from the task data."""
        s = self.s
        n = len(s)
        best = 0
        for center in range(2 * n - 1):
            left = center // 2
            right = left + center % 2
            while left >= 0 and right < n and s[left] == s[right]:
                left -= 1
                right += 1
            best = max(best, right - left - 1)
        return best

    def step(self, action: str):
        self.step_count += 1
        try:
            try:
                call_dict = json.loads(action)
            except (TypeError, ValueError):
                raise ValueError("action is not a valid JSON string")
            if not isinstance(call_dict, dict):
                raise ValueError("action must be a JSON object")
            if "name" not in call_dict:
                raise ValueError("function call doesn't have `name`")
            if "parameters" not in call_dict:
                raise ValueError("function call doesn't have `parameters`")
            action_name = call_dict["name"]
            params = call_dict["parameters"]
            if not isinstance(action_name, str) or action_name not in self.func_mapping:
                raise ValueError(f"Invalid action: {action_name}")
            if not isinstance(params, dict):
                raise ValueError("`parameters` must be a JSON object")
            action_code = self.func_mapping[action_name]

            if action_code == self.OBSERVE:
                msg = self.Observe()
            elif action_code == self.EXPAND_AROUND_CENTER:
                if "left" in params and "right" in params:
                    msg = self.ExpandAroundCenter(params["left"], params["right"])
                else:
                    msg = "Error: 'left' or 'right' parameter is missing for ExpandAroundCenter action."
            elif action_code == self.RECORD_CANDIDATE:
                if "length" in params:
                    msg = self.RecordCandidate(params["length"])
                else:
                    msg = "Error: 'length' parameter is missing for RecordCandidate action."
            elif action_code == self.GET_BEST:
                msg = self.GetBest()
            elif action_code == self.DONE:
                if "answer" in params:
                    msg = self.Done(params["answer"])
                else:
                    msg = "Error: 'answer' parameter is missing for Done action."
            else:
                msg = f"Error: Invalid action: {action_name}"
        except Exception as e:
            msg = f"Error: {str(e)}"
        return True, msg

    # --- tools ---
    def Observe(self):
        r"""
        Return the string whose longest palindromic substring length is wanted.

        Returns:
            str: the string, JSON-encoded.

        Example Output:
            "\"babad\""
        """
        return json.dumps(self.s)

    def ExpandAroundCenter(self, left, right):
        r"""
        Expand a palindrome outwards from a center while the characters on both sides match.
        Use left == right for an odd-length center, right == left + 1 for an even-length one.

        Args:
            left (int): left index of the center, 0..len(s)-1.
            right (int): right index of the center, left or left + 1, at most len(s)-1.

        Returns:
            str: the length of the longest palindrome around that center (0 if s[left] != s[right]).

        Example Output:
            "3"
        """
        left = _require_int(left, "left")
        right = _require_int(right, "right")
        n = len(self.s)
        if left < 0 or left >= n:
            raise ValueError(f"left index {left} out of range 0..{n - 1}")
        if right < 0 or right >= n:
            raise ValueError(f"right index {right} out of range 0..{n - 1}")
        if right != left and right != left + 1:
            raise ValueError("right must equal left or left + 1")
        while left >= 0 and right < n and self.s[left] == self.s[right]:
            left -= 1
            right += 1
        return str(right - left - 1)

    def RecordCandidate(self, length):
        r"""
        Record a palindrome length found so far; keeps the maximum of all recorded lengths.

        Args:
            length (int): a palindrome length, 0..len(s).

        Returns:
            str: the best (maximum) recorded length after this update.

        Example Output:
            "3"
        """
        length = _require_int(length, "length")
        if length < 0 or length > len(self.s):
            raise ValueError(f"length {length} out of range 0..{len(self.s)}")
        if length > self.best:
            self.best = length
        return str(self.best)

    def GetBest(self):
        r"""
        Return the best (maximum) palindrome length recorded so far (0 if none).

        Returns:
            str: the best length as an integer.

        Example Output:
            "3"
        """
        return str(self.best)

    def Done(self, answer):
        r"""
        Submit the final answer and end the episode.

        Args:
            answer (int): the length of the longest palindromic substring.

        Returns:
            str: whether the answer is correct, with the reference answer.

        Example Output:
            "Your answer: 3, reference answer: 3, result: correct, reward=1"
        """
        answer = _require_int(answer, "answer")
        ref_answer = self.get_ref_answer()
        correct = answer == ref_answer
        self._reward = 1 if correct else 0
        self._done = True
        msg = f"Your answer: {answer}, reference answer: {ref_answer}"
        return msg + f", result: {'correct' if correct else 'incorrect'}, reward={self._reward}"

    def solve(self):
        r"""Solve the task using only the tools (through self.step with JSON actions) and submit."""
        s = json.loads(self.step(json.dumps({"name": "Observe", "parameters": {}}))[1])
        n = len(s)
        known_best = 0
        for i in range(n):
            centers = [(i, i)]
            if i + 1 < n:
                centers.append((i, i + 1))
            for left, right in centers:
                length = int(self.step(json.dumps(
                    {"name": "ExpandAroundCenter", "parameters": {"left": left, "right": right}}
                ))[1])
                if length > known_best:
                    known_best = int(self.step(json.dumps(
                        {"name": "RecordCandidate", "parameters": {"length": length}}
                    ))[1])
        best = int(self.step(json.dumps({"name": "GetBest", "parameters": {}}))[1])
        return self.step(json.dumps({"name": "Done", "parameters": {"answer": best}}))[1]


if __name__ == "__main__":
    env = LongestPalindromicSubstringEnv.from_env_str('LongestPalindromicSubstringEnv@{"s": "babad"}')
    print(env.solve())
    print("step count:", env.step_count)
    env = LongestPalindromicSubstringEnv.from_env_str('LongestPalindromicSubstringEnv@{"s": "cbbd"}')
    print(env.solve())
    print("step count:", env.step_count)
